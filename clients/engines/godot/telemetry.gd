## Game telemetry over one WebSocket per game session: guest identity, batching, acks, re-sends.
## Add as an autoload named "Telemetry" (Project > Project Settings > Globals > Autoload); Godot 4.2+.
## Protocol: ARCHITECTURE.md "Event", "WebSocket API" and "Identity"; README.md beside this file.
extends Node

## The server refused events for good: a bug in the events (re-sending cannot help), not a network problem.
signal refused(count: int, error: String, message: String)
## Emitted once by flush_and_close() (or when the node leaves the tree); true when nothing was lost.
signal closed(all_acked: bool)

# Settings, overridable in project.godot under [telemetry] (see README); read once in _ready().
var identity_url := "http://127.0.0.1:8787/"
var websocket_url := "" ## empty = identity_url with ws:// or wss://
var batch_max_events := 100
var flush_interval_sec := 1.0
## Largest frame we build; the server's limit is 128 KiB, and a margin keeps us clear of it.
var frame_max_bytes := 96 * 1024
var max_queued_events := 10000
## Batches sent and not yet acked; bounds memory, the socket's outbound buffer and what a reconnect re-sends.
var max_in_flight_batches := 4
## The server closes sockets idle for 10 min; a ping well before that keeps ours.
var ping_after_idle_sec := 240.0
## The server ends connections after 2 h; we move to a fresh socket (and token) a little earlier.
var rotate_connection_after_sec := 110.0 * 60.0

# What happened to the events tracked so far; each ends in exactly one of accepted/rejected/dropped.
var events_tracked := 0
var events_accepted := 0
var events_rejected := 0 ## invalid here or at the server, or in a batch the server refused
var events_dropped := 0 ## pushed out of the full queue (oldest first), or unconfirmed at close
var batches_resent := 0
var reconnects := 0

const SAVE_PATH := "user://telemetry.cfg"
# A batch or ping unanswered this long means a dead socket: a half-open TCP connection can look open for
# minutes, and only a reconnect (which re-sends every unacked batch) gets the events moving again.
const ANSWER_TIMEOUT_SEC := 30.0
const CONNECT_TIMEOUT_SEC := 15.0
const BACKOFF_MAX_SEC := 60.0
const SERVER_BATCH_LIMIT := 500
const SERVER_FRAME_LIMIT := 128 * 1024
const EVENT_DATA_MAX_BYTES := 32 * 1024
const FRAME_OVERHEAD_BYTES := 96 # {"action":"put-records","id":"<32 hex digits>","events":[]} and spare
const RETRYABLE_CODES := ["rate_limited", "stream_unavailable"]

enum State { WAITING, AUTHENTICATING, CONNECTING, OPEN, CLOSED }


## A batch is built once and re-sent verbatim (same id, same events) until its ack.
class Batch:
	var id: String
	var frame: String
	var event_count: int
	var sent := false
	var sent_at := 0.0
	var retry_at := 0.0
	var retry_attempt := 0


var _state := State.WAITING
var _state_since := 0.0
var _ws: WebSocketPeer
var _http: HTTPRequest
var _crypto := Crypto.new()
## Events not yet in a batch: {json, bytes, queued_at}. Untyped so that slice() needs no typed copy.
var _queue: Array = []
var _in_flight: Array[Batch] = []

var _user_id := ""
var _guest_secret := ""
var _auth_token := ""
var _refresh_token := ""
var _auth_renew_at := 0.0
var _refresh_expires_at := 0.0
var _renew_before_connect := false

var _reconnect_attempt := 0
var _reconnect_at := 0.0
var _last_send_at := 0.0
var _ping_sent_at := 0.0
var _progressed := false
var _ever_connected := false
var _closing := false
var _close_deadline := 0.0


func _ready() -> void:
	process_mode = Node.PROCESS_MODE_ALWAYS # keep sending while the game is paused
	identity_url = ProjectSettings.get_setting("telemetry/identity_url", identity_url)
	websocket_url = ProjectSettings.get_setting("telemetry/websocket_url", websocket_url)
	batch_max_events = clampi(ProjectSettings.get_setting("telemetry/batch_max_events", batch_max_events), 1, SERVER_BATCH_LIMIT)
	flush_interval_sec = ProjectSettings.get_setting("telemetry/flush_interval_sec", flush_interval_sec)
	frame_max_bytes = clampi(ProjectSettings.get_setting("telemetry/frame_max_bytes", frame_max_bytes), 8 * 1024, SERVER_FRAME_LIMIT - 8 * 1024)
	max_queued_events = maxi(ProjectSettings.get_setting("telemetry/max_queued_events", max_queued_events), 1)
	max_in_flight_batches = maxi(ProjectSettings.get_setting("telemetry/max_in_flight_batches", max_in_flight_batches), 1)

	_http = HTTPRequest.new()
	_http.timeout = 10.0
	add_child(_http)
	var saved := ConfigFile.new()
	if saved.load(SAVE_PATH) == OK:
		_user_id = saved.get_value("guest", "user_id", "")
		_guest_secret = saved.get_value("guest", "guest_secret", "")
	_start_connect()


func _exit_tree() -> void:
	if _state != State.CLOSED:
		# No frames are left to wait for acks in: send what we can and report the rest as not confirmed.
		# Games that want a clean end await flush_and_close() first (see example.gd).
		_cut_batches(true)
		if _ws != null:
			_ws.poll() # pushes the queued frames onto the socket
		_finish_close()


## Queues one event. A String `data` is stored as it is, any other value as its JSON text; null = no event_data.
func track(event_type: String, data: Variant = null) -> void:
	events_tracked += 1
	if _state == State.CLOSED:
		events_dropped += 1
		return
	var event := {
		# A new id for every event: the server stores a re-sent batch once (dedup on player, event_id,
		# event_type, updated_at), and two real events never collapse into one.
		"event_id": _uuid_v4(),
		"event_type": event_type,
		"updated_at": _utc_now_iso(), # e.g. 2024-02-22T03:03:02.123Z
	}
	if data != null:
		event["event_data"] = data if data is String else JSON.stringify(data)
	if event_type.is_empty() or event_type.length() > 64 or not _is_printable(event_type) \
			or (data != null and (event["event_data"] as String).to_utf8_buffer().size() > EVENT_DATA_MAX_BYTES):
		# The server would refuse it; saying so here points at the call that made it.
		push_warning("Telemetry: event \"%s\" not sent: event_type must be 1-64 printable characters and event_data at most 32 KiB" % event_type.left(64))
		events_rejected += 1
		return
	var json := JSON.stringify(event)
	var bytes := json.to_utf8_buffer().size()
	if FRAME_OVERHEAD_BYTES + bytes + 1 > frame_max_bytes:
		push_warning("Telemetry: event \"%s\" not sent: %d bytes of JSON do not fit in one WebSocket frame" % [event_type, bytes])
		events_rejected += 1
		return
	if _queue.size() >= max_queued_events:
		# Full (the server has been out of reach for a while): the oldest event goes, the newest is kept.
		_queue.pop_front()
		events_dropped += 1
	_queue.append({"json": json, "bytes": bytes, "queued_at": _now()})
	if _queue.size() >= batch_max_events:
		_cut_batches(false)


## Sends everything queued now instead of waiting for the batch interval.
func flush() -> void:
	_cut_batches(true)


## Flushes, waits up to `timeout_sec` for every ack, then closes the socket. Use: `await Telemetry.flush_and_close()`.
## Returns true when the server confirmed every event (false when already closed).
func flush_and_close(timeout_sec := 3.0) -> bool:
	if _state == State.CLOSED:
		return false
	_closing = true
	_close_deadline = _now() + maxf(timeout_sec, 0.0)
	_cut_batches(true)
	return await closed


func get_user_id() -> String:
	return _user_id


func _process(_delta: float) -> void:
	if _ws != null:
		_ws.poll()
	var now := _now()
	if _closing and (now >= _close_deadline or (_queue.is_empty() and _in_flight.is_empty())):
		_finish_close()
		return
	match _state:
		State.WAITING:
			if now >= _reconnect_at:
				_start_connect()
		State.CONNECTING:
			var ws_state := _ws.get_ready_state()
			if ws_state == WebSocketPeer.STATE_OPEN:
				_on_open()
			elif ws_state != WebSocketPeer.STATE_CONNECTING:
				# Godot does not report the HTTP status of a refused upgrade, and a 401 (token expired, or the
				# server's keys changed) is the refusal a client can fix: renew the token before the next try.
				_renew_before_connect = true
				_schedule_reconnect("cannot connect (close code %d)" % _ws.get_close_code(), true)
			elif now - _state_since > CONNECT_TIMEOUT_SEC:
				_schedule_reconnect("the WebSocket handshake timed out", true)
		State.OPEN:
			_process_open(now)


func _process_open(now: float) -> void:
	# Read first: acks that arrived just before a close still count.
	while _ws.get_available_packet_count() > 0:
		_on_message(_ws.get_packet().get_string_from_utf8())
	if _ws.get_ready_state() != WebSocketPeer.STATE_OPEN:
		# 1001 is the server's idle or age limit; anything else is a network or server failure. Both reconnect.
		_schedule_reconnect("closed with %d %s" % [_ws.get_close_code(), _ws.get_close_reason()], true)
		return
	if _ping_sent_at > 0.0 and now - _ping_sent_at > ANSWER_TIMEOUT_SEC:
		_schedule_reconnect("a ping got no pong", true)
		return
	var awaiting_answer := false
	for batch in _in_flight:
		awaiting_answer = awaiting_answer or batch.sent
		if batch.sent and now - batch.sent_at > ANSWER_TIMEOUT_SEC:
			_schedule_reconnect("batch %s got no answer" % batch.id, true)
			return
	# Move to a fresh socket (and token) before the server's 2 h limit, between answers when possible so that
	# nothing needs re-sending; dedup makes a re-send safe anyway.
	var age := now - _state_since
	if age > rotate_connection_after_sec and (not awaiting_answer or age > rotate_connection_after_sec + 60.0):
		_schedule_reconnect("renewing the connection before its 2 h limit", false)
		return
	for batch in _in_flight:
		if not batch.sent and batch.retry_at <= now:
			_send_batch(batch)
	_cut_batches(false)
	if _ping_sent_at == 0.0 and now - _last_send_at >= ping_after_idle_sec:
		_send_text('{"action":"ping"}')
		_ping_sent_at = now


func _cut_batches(force: bool) -> void:
	# Batches are cut only when they can go out: until then events wait in the queue, where the oldest may be
	# dropped. A cut batch is kept until its ack, so its id and events are the same in every re-send.
	if _state != State.OPEN:
		return
	var now := _now()
	for batch in _in_flight:
		if batch.retry_at > now:
			return # the server asked us to wait: new batches wait too
	while not _queue.is_empty() and _in_flight.size() < max_in_flight_batches:
		var count := 0
		var bytes := FRAME_OVERHEAD_BYTES
		var full := false
		for queued: Dictionary in _queue:
			var next: int = queued["bytes"] + 1 # + the comma between events
			if count == batch_max_events or bytes + next > frame_max_bytes:
				full = true
				break
			bytes += next
			count += 1
		if not full and not force and not _closing and now - float(_queue[0]["queued_at"]) < flush_interval_sec:
			return
		var events := PackedStringArray()
		for i in count:
			events.append(_queue[i]["json"])
		_queue = _queue.slice(count)
		var batch := Batch.new()
		batch.id = _crypto.generate_random_bytes(16).hex_encode()
		batch.event_count = count
		batch.frame = '{"action":"put-records","id":"%s","events":[%s]}' % [batch.id, ",".join(events)]
		_in_flight.append(batch)
		_send_batch(batch)


func _send_batch(batch: Batch) -> void:
	if _state != State.OPEN:
		return # goes out after the next connect
	if batch.sent_at > 0.0:
		batches_resent += 1
	batch.sent = true
	batch.sent_at = _now()
	_send_text(batch.frame)


func _send_text(text: String) -> void:
	var err := _ws.send_text(text)
	if err != OK:
		# Outbound buffer full or socket going away: the answer timeout reconnects and re-sends.
		push_warning("Telemetry: sending a frame failed (error %d)" % err)
	_last_send_at = _now()


func _start_connect() -> void:
	_set_state(State.AUTHENTICATING)
	if _auth_token.is_empty() or _renew_before_connect or _now() >= _auth_renew_at:
		var ok: bool = await _renew_identity()
		if _state != State.AUTHENTICATING:
			return # closed meanwhile
		if not ok:
			_schedule_reconnect("no token from the identity service", true)
			return
		_renew_before_connect = false
	var url := websocket_url
	if url.is_empty():
		url = identity_url
		if url.begins_with("https://"):
			url = "wss://" + url.substr(8)
		elif url.begins_with("http://"):
			url = "ws://" + url.substr(7)
	url += ("&" if "?" in url else "?") + "auth_token=" + _auth_token.uri_encode()
	_ws = WebSocketPeer.new()
	# Room for a full window of batches: a frame that does not fit in the outbound buffer is not sent.
	_ws.outbound_buffer_size = max_in_flight_batches * frame_max_bytes + 64 * 1024
	var err := _ws.connect_to_url(url)
	if err != OK:
		_schedule_reconnect("cannot open %s (error %d)" % [url.get_slice("?", 0), err], true)
		return
	_set_state(State.CONNECTING)
	_progressed = false


func _on_open() -> void:
	if _ever_connected:
		reconnects += 1
	_ever_connected = true
	_set_state(State.OPEN)
	_last_send_at = _state_since
	_ping_sent_at = 0.0
	for batch in _in_flight: # oldest first; a batch waiting out a retry delay keeps waiting
		if batch.retry_at <= _state_since:
			_send_batch(batch)
	_cut_batches(false)


func _schedule_reconnect(why: String, failure: bool) -> void:
	_drop_socket()
	if _state == State.CLOSED:
		return
	# A connection that got answers was healthy: come back at once. Failures in a row back off further.
	_reconnect_attempt = 0 if (_progressed or not failure) else _reconnect_attempt + 1
	_progressed = false
	var delay := _backoff(_reconnect_attempt, 1.0)
	_set_state(State.WAITING)
	_reconnect_at = _state_since + delay
	print("Telemetry: reconnecting in %.1f s: %s" % [delay, why])
	# Every unacked batch goes out again on the next socket, same id and same events.
	for batch in _in_flight:
		batch.sent = false


func _drop_socket() -> void:
	if _ws != null:
		_ws.close()
		_ws = null


func _on_message(text: String) -> void:
	var frame: Variant = JSON.parse_string(text)
	if not (frame is Dictionary):
		return
	_progressed = true
	_ping_sent_at = 0.0 # any answer proves the socket alive
	# Acks may come in any order: match by id. No match = a pong, or the answer to a re-send already acked.
	var id := str(frame.get("id", ""))
	for index in _in_flight.size():
		if _in_flight[index].id == id:
			match str(frame.get("type", "")):
				"ack":
					_on_ack(frame, index)
				"error":
					_on_error_frame(frame, index)
			return


func _on_ack(frame: Dictionary, index: int) -> void:
	var batch: Batch = _in_flight[index]
	var rejected: Array = frame["rejected"] if frame.get("rejected") is Array else []
	if not rejected.is_empty():
		var first: Dictionary = rejected[0] if rejected[0] is Dictionary else {}
		var error := str(first.get("error", "?"))
		var message := str(first.get("message", ""))
		push_warning("Telemetry: the server rejected %d event(s) of batch %s, e.g. %s: %s" % [rejected.size(), batch.id, error, message])
		refused.emit(rejected.size(), error, message)
	var accepted := int(frame.get("accepted", batch.event_count - rejected.size()))
	events_accepted += accepted
	events_rejected += batch.event_count - accepted
	_in_flight.remove_at(index)
	_cut_batches(false) # a slot in the window is free


func _on_error_frame(frame: Dictionary, index: int) -> void:
	var batch: Batch = _in_flight[index]
	var code := str(frame.get("error", ""))
	var message := str(frame.get("message", ""))
	if code in RETRYABLE_CODES:
		# The server could not take it now: the same batch goes out again later, after the wait it asks for.
		var retry_after := float(frame.get("retry_after_ms", 0)) / 1000.0
		batch.sent = false
		batch.retry_at = _now() + maxf(retry_after, _backoff(batch.retry_attempt, 0.5))
		batch.retry_attempt += 1
		return
	# Any other code refuses the whole batch for good (malformed, too large...): re-sending cannot help.
	push_warning("Telemetry: the server refused batch %s (%d events): %s %s" % [batch.id, batch.event_count, code, message])
	events_rejected += batch.event_count
	refused.emit(batch.event_count, code, message)
	_in_flight.remove_at(index)
	_cut_batches(false)


func _finish_close() -> void:
	var unconfirmed := _queue.size()
	for batch in _in_flight:
		unconfirmed += batch.event_count
	if unconfirmed > 0:
		push_warning("Telemetry: closing with %d event(s) not confirmed by the server" % unconfirmed)
		events_dropped += unconfirmed
	_closing = false
	_set_state(State.CLOSED)
	_drop_socket()
	_queue.clear()
	_in_flight.clear()
	closed.emit(unconfirmed == 0)


# ---- identity (ARCHITECTURE.md "Identity") ----

## Refreshes while the refresh token lives; when it is refused, logs in again as the same guest.
func _renew_identity() -> bool:
	if not _refresh_token.is_empty() and _now() < _refresh_expires_at:
		var answer: Dictionary = await _http_get(_base_url() + "refresh-access-token?refresh_token=" + _refresh_token.uri_encode())
		var status: int = answer["status"]
		if status == 200 and _take_tokens(answer["body"]):
			return true
		if status < 400 or status >= 500:
			return false # unreachable or failing: a new login would not help, backing off will
		_refresh_token = ""
	return await _login_as_guest()


func _login_as_guest() -> bool:
	var url := _base_url() + "login-as-guest"
	var returning := not _user_id.is_empty() and not _guest_secret.is_empty()
	if returning:
		url += "?user_id=%s&guest_secret=%s" % [_user_id.uri_encode(), _guest_secret.uri_encode()]
	var answer: Dictionary = await _http_get(url)
	var status: int = answer["status"]
	if status == 200 and _take_tokens(answer["body"]):
		return true
	if returning and status == 401:
		# The saved guest is unknown to this server (another deployment, or its data was reset): a new player
		# id is better than no telemetry at all.
		push_warning("Telemetry: saved guest %s was refused; logging in as a new guest" % _user_id)
		_user_id = ""
		_guest_secret = ""
		return await _login_as_guest()
	push_warning("Telemetry: guest login at %s failed (HTTP %d); will retry" % [identity_url, status])
	return false


func _take_tokens(body: Variant) -> bool:
	if not (body is Dictionary) or not (body.get("auth_token") is String) or body["auth_token"].is_empty():
		return false
	_auth_token = body["auth_token"]
	# A refresh may or may not rotate the refresh token; only a login carries the guest's credentials.
	_refresh_token = str(body.get("refresh_token", _refresh_token))
	var user_id := str(body.get("user_id", _user_id))
	var secret := str(body.get("guest_secret", _guest_secret))
	var new_guest := user_id != _user_id or secret != _guest_secret
	_user_id = user_id
	_guest_secret = secret
	var now := _now()
	var lifetime := float(body.get("auth_token_expires_in", 900.0))
	# Renew 20% early (at most a minute): a token must not expire between this check and the handshake.
	_auth_renew_at = now + lifetime - minf(60.0, lifetime * 0.2)
	if body.has("refresh_token_expires_in"):
		_refresh_expires_at = now + float(body["refresh_token_expires_in"])
	elif _refresh_expires_at <= now:
		_refresh_expires_at = now + 6 * 24 * 3600.0
	if new_guest and not _guest_secret.is_empty():
		var saved := ConfigFile.new()
		saved.set_value("guest", "user_id", _user_id)
		saved.set_value("guest", "guest_secret", _guest_secret)
		saved.save(SAVE_PATH)
	return true


## {status, body}: status 0 = no HTTP answer at all. Only _start_connect calls it, so calls never overlap.
func _http_get(url: String) -> Dictionary:
	if _http.request(url) != OK:
		return {"status": 0, "body": null}
	var result: Array = await _http.request_completed
	var status: int = result[1] if result[0] == HTTPRequest.RESULT_SUCCESS else 0
	var body: Variant = JSON.parse_string((result[3] as PackedByteArray).get_string_from_utf8())
	return {"status": status, "body": body}


# ---- helpers ----

func _set_state(state: State) -> void:
	_state = state
	_state_since = _now()


func _now() -> float:
	return Time.get_ticks_msec() / 1000.0 # monotonic: wall-clock jumps do not disturb timers


func _base_url() -> String:
	return identity_url if identity_url.ends_with("/") else identity_url + "/"


## Exponential backoff with jitter, so that players reconnecting after a server restart spread out.
func _backoff(attempt: int, base_sec: float) -> float:
	var ceiling := minf(BACKOFF_MAX_SEC, base_sec * pow(2.0, mini(attempt, 16)))
	return ceiling / 2.0 + randf() * ceiling / 2.0


func _uuid_v4() -> String:
	var b := _crypto.generate_random_bytes(16)
	b[6] = (b[6] & 0x0f) | 0x40 # version 4
	b[8] = (b[8] & 0x3f) | 0x80 # RFC 4122 variant
	var h := b.hex_encode()
	return "%s-%s-%s-%s-%s" % [h.substr(0, 8), h.substr(8, 4), h.substr(12, 4), h.substr(16, 4), h.substr(20, 12)]


func _utc_now_iso() -> String:
	var t := Time.get_unix_time_from_system()
	var ms := int((t - floorf(t)) * 1000.0)
	return "%s.%03dZ" % [Time.get_datetime_string_from_unix_time(int(t)), ms]


func _is_printable(text: String) -> bool:
	for i in text.length():
		var c := text.unicode_at(i)
		if c < 0x20 or c == 0x7f:
			return false
	return true
