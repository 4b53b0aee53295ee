## Usage sample: the events of the original Unreal "Databricks Delta Lake integration" sample, sent through the
## Telemetry autoload. Attach to any node of the main scene.
extends Node


func _ready() -> void:
	# Quit through log_out_and_quit() so that the last events are confirmed before the game exits.
	get_tree().set_auto_accept_quit(false)
	Telemetry.refused.connect(_on_telemetry_refused)
	# No need to wait for the login: events queue until the socket is open. Each gets its own event_id.
	Telemetry.track("Login", "Player logged in")
	Telemetry.track("CollectedItem", "Magic Sword")
	Telemetry.track("Killed Enemy", "Spider")


func _notification(what: int) -> void:
	if what == NOTIFICATION_WM_CLOSE_REQUEST:
		log_out_and_quit()


func log_out_and_quit() -> void:
	Telemetry.track("Logout", "Player logged out")
	# Quitting at once would lose the last batch: quit when the server has confirmed it, or after 3 s.
	var all_acked: bool = await Telemetry.flush_and_close(3.0)
	print("Telemetry: %d tracked, %d accepted, %d rejected, %d dropped%s" % [
		Telemetry.events_tracked, Telemetry.events_accepted, Telemetry.events_rejected, Telemetry.events_dropped,
		"" if all_acked else " (some not confirmed)"])
	get_tree().quit()


func _on_telemetry_refused(count: int, error: String, message: String) -> void:
	push_error("Telemetry refused %d event(s): %s %s" % [count, error, message])
