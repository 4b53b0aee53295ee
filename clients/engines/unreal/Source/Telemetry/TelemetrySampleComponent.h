// Usage sample: the events of the original Unreal "Databricks Delta Lake integration" sample, sent through
// UTelemetrySubsystem. Add the component to any actor in a level (e.g. the player pawn).
#pragma once

#include "CoreMinimal.h"
#include "Components/ActorComponent.h"
#include "TelemetrySampleComponent.generated.h"

UCLASS(ClassGroup = (Telemetry), meta = (BlueprintSpawnableComponent))
class UTelemetrySampleComponent : public UActorComponent
{
	GENERATED_BODY()

public:
	/** Sends "Logout", waits (at most 3 s) until the server has acked every event, then quits the game. */
	UFUNCTION(BlueprintCallable, Category = "Telemetry")
	void LogOutAndQuit();

protected:
	virtual void BeginPlay() override;
};
