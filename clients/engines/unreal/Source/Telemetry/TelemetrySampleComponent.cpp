#include "TelemetrySampleComponent.h"

#include "Engine/GameInstance.h"
#include "Engine/World.h"
#include "Kismet/KismetSystemLibrary.h"
#include "TelemetrySubsystem.h"

void UTelemetrySampleComponent::BeginPlay()
{
	Super::BeginPlay();
	UTelemetrySubsystem* Telemetry = GetWorld()->GetGameInstance()->GetSubsystem<UTelemetrySubsystem>();
	// No need to wait for the login: events queue until the socket is open. Each gets its own event_id.
	Telemetry->Track(TEXT("Login"), TEXT("Player logged in"));
	Telemetry->Track(TEXT("CollectedItem"), TEXT("Magic Sword"));
	Telemetry->Track(TEXT("Killed Enemy"), TEXT("Spider"));
}

void UTelemetrySampleComponent::LogOutAndQuit()
{
	UTelemetrySubsystem* Telemetry = GetWorld()->GetGameInstance()->GetSubsystem<UTelemetrySubsystem>();
	Telemetry->Track(TEXT("Logout"), TEXT("Player logged out"));
	// Quitting at once would lose the last batch: quit when the server has confirmed it, or after 3 s.
	TWeakObjectPtr<UTelemetrySampleComponent> WeakThis(this);
	Telemetry->FlushAndClose(3.0f, [WeakThis, Telemetry](bool bAllAcked)
	{
		const FTelemetryStats Stats = Telemetry->GetStats();
		UE_LOG(LogTemp, Display, TEXT("Telemetry closed: %lld tracked, %lld accepted, %lld rejected, %lld dropped%s"),
			Stats.Tracked, Stats.Accepted, Stats.Rejected, Stats.Dropped, bAllAcked ? TEXT("") : TEXT(" (some not confirmed)"));
		if (UTelemetrySampleComponent* Self = WeakThis.Get())
		{
			UKismetSystemLibrary::QuitGame(Self, nullptr, EQuitPreference::Quit, false);
		}
	});
}
