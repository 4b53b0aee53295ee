// Game telemetry over one WebSocket per game session: guest identity, batching, acks, re-sends.
// Protocol: ARCHITECTURE.md "Event", "WebSocket API" and "Identity"; README.md beside this folder.
#pragma once

#include "CoreMinimal.h"
#include "Containers/Ticker.h"
#include "GameFramework/SaveGame.h"
#include "Subsystems/GameInstanceSubsystem.h"
#include "TelemetrySubsystem.generated.h"

class IWebSocket;
class FJsonObject;

/** The guest identity kept between runs, so a player stays the same player_id. */
UCLASS()
class UTelemetryGuestSave : public USaveGame
{
	GENERATED_BODY()
public:
	UPROPERTY(SaveGame)
	FString UserId;

	UPROPERTY(SaveGame)
	FString GuestSecret;
};

/** What happened to the events tracked so far; every tracked event ends in exactly one of the last four. */
USTRUCT(BlueprintType)
struct FTelemetryStats
{
	GENERATED_BODY()

	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 Tracked = 0;
	/** Stored by the server (acked as accepted). */
	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 Accepted = 0;
	/** Refused for good: invalid here or at the server, or in a batch the server refused. */
	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 Rejected = 0;
	/** Pushed out of the full queue (oldest first) or still unsent when the session closed. */
	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 Dropped = 0;
	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 ResentBatches = 0;
	UPROPERTY(BlueprintReadOnly, Category = "Telemetry")
	int64 Reconnects = 0;
};

/**
 * Sends telemetry events for the whole game session. Starts with the game instance: logs in as the saved
 * guest (or a new one), keeps ONE WebSocket open and streams batches of events, each kept until acked.
 * Call from the game thread (all engine callbacks used here arrive on it too).
 *
 * Settings come from DefaultGame.ini, section [/Script/<YourModule>.TelemetrySubsystem].
 */
UCLASS(Config = Game)
class UTelemetrySubsystem : public UGameInstanceSubsystem
{
	GENERATED_BODY()

public:
	/** Identity service base URL (`npm start`: the server itself). */
	UPROPERTY(Config)
	FString IdentityUrl = TEXT("http://127.0.0.1:8787/");

	/** WebSocket endpoint; empty = IdentityUrl with ws:// or wss://. On AWS: wss://<api>.execute-api.<region>.amazonaws.com/<stage> */
	UPROPERTY(Config)
	FString WebSocketUrl;

	UPROPERTY(Config)
	int32 BatchMaxEvents = 100;

	UPROPERTY(Config)
	float FlushIntervalSeconds = 1.0f;

	/** Largest frame we build; the server's limit is 128 KiB, and a margin keeps us clear of it. */
	UPROPERTY(Config)
	int32 FrameMaxBytes = 96 * 1024;

	UPROPERTY(Config)
	int32 MaxQueuedEvents = 10000;

	/** Batches sent and not yet acked; bounds memory and what a reconnect re-sends. */
	UPROPERTY(Config)
	int32 MaxInFlightBatches = 4;

	/** The server closes sockets idle for 10 min; a ping well before that keeps ours. */
	UPROPERTY(Config)
	float PingAfterIdleSeconds = 240.0f;

	/** The server ends connections after 2 h; we move to a fresh socket (and token) a little earlier. */
	UPROPERTY(Config)
	float RotateConnectionAfterSeconds = 110.0f * 60.0f;

	UPROPERTY(Config)
	FString SaveSlotName = TEXT("TelemetryGuest");

	virtual void Initialize(FSubsystemCollectionBase& Collection) override;
	virtual void Deinitialize() override;

	/** Queues one event; `EventData` is stored as the event_data string (pass JSON text for structured data). */
	UFUNCTION(BlueprintCallable, Category = "Telemetry")
	void Track(const FString& EventType, const FString& EventData);

	/** Sends everything queued now instead of waiting for the batch interval. */
	UFUNCTION(BlueprintCallable, Category = "Telemetry")
	void Flush();

	/** Flushes, waits up to `TimeoutSeconds` for every ack, then closes; `OnDone(true)` when nothing was lost. */
	void FlushAndClose(float TimeoutSeconds, TFunction<void(bool bAllAcked)> OnDone = nullptr);

	UFUNCTION(BlueprintPure, Category = "Telemetry")
	FTelemetryStats GetStats() const { return Stats; }

	UFUNCTION(BlueprintPure, Category = "Telemetry")
	FString GetUserId() const { return UserId; }

private:
	enum class EState : uint8 { Waiting, Authenticating, Connecting, Open, Closed };

	struct FQueuedEvent
	{
		FString Json;
		int32 Bytes = 0;
		double QueuedAt = 0;
	};

	/** A batch is built once and re-sent verbatim (same id, same events) until its ack. */
	struct FBatch
	{
		FString Id;
		FString Frame;
		int32 EventCount = 0;
		bool bSent = false;
		double SentAt = 0;
		double RetryAt = 0;
		int32 RetryAttempt = 0;
	};

	bool Tick(float DeltaTime);
	void StartConnect();
	void OpenSocket();
	void DropSocket();
	void ScheduleReconnect(const FString& Why, bool bFailure);
	void OnSocketConnected();
	void OnSocketError(const FString& Error);
	void OnSocketClosed(int32 StatusCode, const FString& Reason, bool bWasClean);
	void OnSocketMessage(const FString& Text);
	void OnAck(const FJsonObject& Frame, int32 BatchIndex);
	void OnErrorFrame(const FJsonObject& Frame, int32 BatchIndex);
	void CutBatches(bool bForce);
	void SendBatch(FBatch& Batch);
	void SendText(const FString& Text);
	void FinishClose();
	int32 QueuedCount() const { return Queue.Num() - QueueHead; }

	void RenewIdentity(TFunction<void(bool bOk)> Done);
	void LoginAsGuest(TFunction<void(bool bOk)> Done);
	bool TakeTokens(const FJsonObject& Body);
	void HttpGet(const FString& Url, TFunction<void(int32 Status, TSharedPtr<FJsonObject> Body)> Done);

	EState State = EState::Waiting;
	TSharedPtr<IWebSocket> Socket;
	/** The socket just dropped, released on the next tick: never destroyed inside one of its own callbacks. */
	TSharedPtr<IWebSocket> RetiredSocket;
	FTSTicker::FDelegateHandle TickHandle;

	TArray<FQueuedEvent> Queue;
	int32 QueueHead = 0; // index of the oldest event: dropping it is O(1)
	TArray<FBatch> InFlight;

	FString UserId, GuestSecret, AuthToken, RefreshToken;
	double AuthRenewAt = 0, RefreshExpiresAt = 0;
	bool bRenewBeforeConnect = false;

	int32 ReconnectAttempt = 0;
	double ReconnectAt = 0, StateSince = 0, LastSendAt = 0, PingSentAt = 0;
	bool bProgressed = false;
	bool bEverConnected = false;

	bool bClosing = false;
	double CloseDeadline = 0;
	TFunction<void(bool)> OnClosedAfterFlush;

	FTelemetryStats Stats;
};
