#include "TelemetrySubsystem.h"

#include "Dom/JsonObject.h"
#include "GenericPlatform/GenericPlatformHttp.h"
#include "HttpModule.h"
#include "IWebSocket.h"
#include "Interfaces/IHttpRequest.h"
#include "Interfaces/IHttpResponse.h"
#include "Kismet/GameplayStatics.h"
#include "Misc/DateTime.h"
#include "Misc/Guid.h"
#include "Modules/ModuleManager.h"
#include "Policies/CondensedJsonPrintPolicy.h"
#include "Serialization/JsonReader.h"
#include "Serialization/JsonSerializer.h"
#include "Serialization/JsonWriter.h"
#include "WebSocketsModule.h"

DEFINE_LOG_CATEGORY_STATIC(LogTelemetry, Log, All);

namespace
{
	// A batch or ping unanswered this long means a dead socket: a half-open TCP connection can look open for
	// minutes, and only a reconnect (which re-sends every unacked batch) gets the events moving again.
	constexpr double AnswerTimeoutSeconds = 30.0;
	constexpr double ConnectTimeoutSeconds = 15.0;
	constexpr double HttpTimeoutSeconds = 10.0;
	constexpr double BackoffMaxSeconds = 60.0;
	// The contract's limits (ARCHITECTURE.md "Event" and "WebSocket API").
	constexpr int32 ServerBatchLimit = 500;
	constexpr int32 ServerFrameLimit = 128 * 1024;
	constexpr int32 EventTypeMaxChars = 64;
	constexpr int32 EventDataMaxBytes = 32 * 1024;
	// {"action":"put-records","id":"<32 hex digits>","events":[]} with room to spare.
	constexpr int32 FrameOverheadBytes = 96;

	using FCondensedJsonWriterFactory = TJsonWriterFactory<TCHAR, TCondensedJsonPrintPolicy<TCHAR>>;

	/** Exponential backoff with jitter, so that players reconnecting after a server restart spread out. */
	double BackoffDelay(int32 Attempt, double BaseSeconds)
	{
		const double Ceiling = FMath::Min(BackoffMaxSeconds, BaseSeconds * double(1 << FMath::Min(Attempt, 16)));
		return Ceiling / 2 + FMath::FRand() * Ceiling / 2;
	}

	FString ToJson(const TSharedRef<FJsonObject>& Object)
	{
		FString Out;
		FJsonSerializer::Serialize(Object, FCondensedJsonWriterFactory::Create(&Out));
		return Out;
	}

	int32 Utf8Bytes(const FString& Text) { return FTCHARToUTF8(*Text).Length(); }

	FString WithSlash(const FString& Url) { return Url.EndsWith(TEXT("/")) ? Url : Url + TEXT("/"); }

	bool IsPrintable(const FString& Text)
	{
		for (const TCHAR C : Text)
		{
			if (C < 0x20 || C == 0x7F) return false;
		}
		return true;
	}
}

void UTelemetrySubsystem::Initialize(FSubsystemCollectionBase& Collection)
{
	Super::Initialize(Collection);
	BatchMaxEvents = FMath::Clamp(BatchMaxEvents, 1, ServerBatchLimit);
	FrameMaxBytes = FMath::Clamp(FrameMaxBytes, 8 * 1024, ServerFrameLimit - 8 * 1024);
	MaxQueuedEvents = FMath::Max(MaxQueuedEvents, 1);
	MaxInFlightBatches = FMath::Max(MaxInFlightBatches, 1);

	if (UGameplayStatics::DoesSaveGameExist(SaveSlotName, 0))
	{
		if (const UTelemetryGuestSave* Saved = Cast<UTelemetryGuestSave>(UGameplayStatics::LoadGameFromSlot(SaveSlotName, 0)))
		{
			UserId = Saved->UserId;
			GuestSecret = Saved->GuestSecret;
		}
	}
	// The core ticker runs on the game thread every frame, also while the game is paused or loading a map.
	TickHandle = FTSTicker::GetCoreTicker().AddTicker(FTickerDelegate::CreateUObject(this, &UTelemetrySubsystem::Tick), 0.1f);
	StartConnect();
}

void UTelemetrySubsystem::Deinitialize()
{
	FTSTicker::GetCoreTicker().RemoveTicker(TickHandle);
	if (State != EState::Closed)
	{
		// No frame loop is left to wait for acks in: send what we can and report the rest as not confirmed.
		// Games that want a clean end call FlushAndClose first (see README).
		CutBatches(true);
		FinishClose();
	}
	Super::Deinitialize();
}

void UTelemetrySubsystem::Track(const FString& EventType, const FString& EventData)
{
	check(IsInGameThread());
	Stats.Tracked++;
	if (State == EState::Closed)
	{
		Stats.Dropped++;
		return;
	}
	if (EventType.IsEmpty() || EventType.Len() > EventTypeMaxChars || !IsPrintable(EventType) || Utf8Bytes(EventData) > EventDataMaxBytes)
	{
		// The server would refuse it; saying so here points at the call that made it.
		UE_LOG(LogTelemetry, Warning, TEXT("Event \"%s\" not sent: event_type must be 1-64 printable characters and event_data at most 32 KiB"), *EventType.Left(64));
		Stats.Rejected++;
		return;
	}
	const TSharedRef<FJsonObject> Event = MakeShared<FJsonObject>();
	// A new id for every event: the server stores a re-sent batch once (dedup on player, event_id, event_type,
	// updated_at), and two real events never collapse into one.
	Event->SetStringField(TEXT("event_id"), FGuid::NewGuid().ToString(EGuidFormats::DigitsWithHyphens));
	Event->SetStringField(TEXT("event_type"), EventType);
	Event->SetStringField(TEXT("updated_at"), FDateTime::UtcNow().ToIso8601()); // e.g. 2024-02-22T03:03:02.123Z
	Event->SetStringField(TEXT("event_data"), EventData);

	FQueuedEvent Queued;
	Queued.Json = ToJson(Event);
	Queued.Bytes = Utf8Bytes(Queued.Json);
	Queued.QueuedAt = FPlatformTime::Seconds();
	if (FrameOverheadBytes + Queued.Bytes + 1 > FrameMaxBytes)
	{
		UE_LOG(LogTelemetry, Warning, TEXT("Event \"%s\" not sent: %d bytes of JSON do not fit in one WebSocket frame"), *EventType, Queued.Bytes);
		Stats.Rejected++;
		return;
	}
	if (QueuedCount() >= MaxQueuedEvents)
	{
		// Full (the server has been out of reach for a while): the oldest event goes, the newest is kept.
		Queue[QueueHead++].Json.Empty();
		Stats.Dropped++;
	}
	Queue.Add(MoveTemp(Queued));
	if (QueueHead > 1024 && QueueHead * 2 > Queue.Num())
	{
		Queue.RemoveAt(0, QueueHead);
		QueueHead = 0;
	}
	if (QueuedCount() >= BatchMaxEvents) CutBatches(false);
}

void UTelemetrySubsystem::Flush()
{
	CutBatches(true);
}

void UTelemetrySubsystem::FlushAndClose(float TimeoutSeconds, TFunction<void(bool bAllAcked)> OnDone)
{
	if (State == EState::Closed)
	{
		if (OnDone) OnDone(false);
		return;
	}
	bClosing = true;
	CloseDeadline = FPlatformTime::Seconds() + FMath::Max(0.0f, TimeoutSeconds);
	OnClosedAfterFlush = MoveTemp(OnDone);
	CutBatches(true);
}

bool UTelemetrySubsystem::Tick(float DeltaTime)
{
	RetiredSocket.Reset();
	const double Now = FPlatformTime::Seconds();
	if (bClosing && (Now >= CloseDeadline || (QueuedCount() == 0 && InFlight.Num() == 0)))
	{
		FinishClose();
		return true;
	}
	switch (State)
	{
	case EState::Waiting:
		if (Now >= ReconnectAt) StartConnect();
		break;
	case EState::Connecting:
		if (Now - StateSince > ConnectTimeoutSeconds) ScheduleReconnect(TEXT("the WebSocket handshake timed out"), true);
		break;
	case EState::Open:
	{
		if (PingSentAt > 0 && Now - PingSentAt > AnswerTimeoutSeconds)
		{
			ScheduleReconnect(TEXT("a ping got no pong"), true);
			break;
		}
		bool bAwaitingAnswer = false;
		for (const FBatch& Batch : InFlight)
		{
			bAwaitingAnswer |= Batch.bSent;
			if (Batch.bSent && Now - Batch.SentAt > AnswerTimeoutSeconds)
			{
				ScheduleReconnect(FString::Printf(TEXT("batch %s got no answer"), *Batch.Id), true);
				return true;
			}
		}
		// Move to a fresh socket (and token) before the server's 2 h limit, between answers when possible so
		// that nothing needs re-sending; dedup makes a re-send safe anyway.
		const double Age = Now - StateSince;
		if (Age > RotateConnectionAfterSeconds && (!bAwaitingAnswer || Age > RotateConnectionAfterSeconds + 60.0))
		{
			ScheduleReconnect(TEXT("renewing the connection before its 2 h limit"), false);
			break;
		}
		for (FBatch& Batch : InFlight)
		{
			if (!Batch.bSent && Batch.RetryAt <= Now) SendBatch(Batch);
		}
		CutBatches(false);
		if (PingSentAt == 0 && Now - LastSendAt >= PingAfterIdleSeconds)
		{
			SendText(TEXT("{\"action\":\"ping\"}"));
			PingSentAt = Now;
		}
		break;
	}
	default:
		break;
	}
	return true; // keep ticking
}

void UTelemetrySubsystem::CutBatches(bool bForce)
{
	// Batches are cut only when they can go out: until then events wait in the queue, where the oldest may be
	// dropped. A cut batch is kept until its ack, so its id and events are the same in every re-send.
	if (State != EState::Open) return;
	const double Now = FPlatformTime::Seconds();
	for (const FBatch& Batch : InFlight)
	{
		if (Batch.RetryAt > Now) return; // the server asked us to wait: new batches wait too
	}
	while (QueuedCount() > 0 && InFlight.Num() < MaxInFlightBatches)
	{
		int32 Count = 0;
		int32 Bytes = FrameOverheadBytes;
		bool bFull = false;
		for (int32 I = QueueHead; I < Queue.Num(); ++I)
		{
			const int32 Next = Queue[I].Bytes + 1; // + the comma between events
			if (Count == BatchMaxEvents || Bytes + Next > FrameMaxBytes)
			{
				bFull = true;
				break;
			}
			Bytes += Next;
			++Count;
		}
		if (!bFull && !bForce && !bClosing && Now - Queue[QueueHead].QueuedAt < FlushIntervalSeconds) break;

		TArray<FString> Events;
		Events.Reserve(Count);
		for (int32 I = 0; I < Count; ++I) Events.Add(MoveTemp(Queue[QueueHead + I].Json));
		QueueHead += Count;

		FBatch& Batch = InFlight.AddDefaulted_GetRef();
		Batch.Id = FGuid::NewGuid().ToString(EGuidFormats::Digits);
		Batch.EventCount = Count;
		Batch.Frame = FString::Printf(TEXT("{\"action\":\"put-records\",\"id\":\"%s\",\"events\":[%s]}"), *Batch.Id, *FString::Join(Events, TEXT(",")));
		SendBatch(Batch);
	}
	if (QueueHead == Queue.Num())
	{
		Queue.Reset();
		QueueHead = 0;
	}
}

void UTelemetrySubsystem::SendBatch(FBatch& Batch)
{
	if (State != EState::Open) return; // goes out after the next connect
	if (Batch.SentAt > 0) Stats.ResentBatches++;
	Batch.bSent = true;
	Batch.SentAt = FPlatformTime::Seconds();
	SendText(Batch.Frame);
}

void UTelemetrySubsystem::SendText(const FString& Text)
{
	Socket->Send(Text);
	LastSendAt = FPlatformTime::Seconds();
}

void UTelemetrySubsystem::StartConnect()
{
	State = EState::Authenticating;
	StateSince = FPlatformTime::Seconds();
	if (!AuthToken.IsEmpty() && !bRenewBeforeConnect && StateSince < AuthRenewAt)
	{
		OpenSocket();
		return;
	}
	RenewIdentity([this](bool bOk)
	{
		if (State != EState::Authenticating) return; // closed meanwhile
		if (!bOk)
		{
			ScheduleReconnect(TEXT("no token from the identity service"), true);
			return;
		}
		bRenewBeforeConnect = false;
		OpenSocket();
	});
}

void UTelemetrySubsystem::OpenSocket()
{
	FString Url = WebSocketUrl;
	if (Url.IsEmpty())
	{
		Url = IdentityUrl;
		if (Url.StartsWith(TEXT("https://"))) Url = TEXT("wss://") + Url.RightChop(8);
		else if (Url.StartsWith(TEXT("http://"))) Url = TEXT("ws://") + Url.RightChop(7);
	}
	Url += Url.Contains(TEXT("?")) ? TEXT("&auth_token=") : TEXT("?auth_token=");
	Url += FGenericPlatformHttp::UrlEncode(AuthToken);

	Socket = FModuleManager::LoadModuleChecked<FWebSocketsModule>(TEXT("WebSockets")).CreateWebSocket(Url);
	Socket->OnConnected().AddUObject(this, &UTelemetrySubsystem::OnSocketConnected);
	Socket->OnConnectionError().AddUObject(this, &UTelemetrySubsystem::OnSocketError);
	Socket->OnClosed().AddUObject(this, &UTelemetrySubsystem::OnSocketClosed);
	Socket->OnMessage().AddUObject(this, &UTelemetrySubsystem::OnSocketMessage);
	State = EState::Connecting;
	StateSince = FPlatformTime::Seconds();
	bProgressed = false;
	Socket->Connect();
}

void UTelemetrySubsystem::DropSocket()
{
	if (!Socket.IsValid()) return;
	// Unbind first: a late event from an old socket must not tear down its successor.
	Socket->OnConnected().RemoveAll(this);
	Socket->OnConnectionError().RemoveAll(this);
	Socket->OnClosed().RemoveAll(this);
	Socket->OnMessage().RemoveAll(this);
	Socket->Close();
	RetiredSocket = MoveTemp(Socket);
}

void UTelemetrySubsystem::ScheduleReconnect(const FString& Why, bool bFailure)
{
	DropSocket();
	if (State == EState::Closed) return;
	// A connection that got answers was healthy: come back at once. Failures in a row back off further.
	ReconnectAttempt = (bProgressed || !bFailure) ? 0 : ReconnectAttempt + 1;
	bProgressed = false;
	const double Delay = BackoffDelay(ReconnectAttempt, 1.0);
	State = EState::Waiting;
	StateSince = FPlatformTime::Seconds();
	ReconnectAt = StateSince + Delay;
	UE_LOG(LogTelemetry, Log, TEXT("Reconnecting in %.1f s: %s"), Delay, *Why);
	// Every unacked batch goes out again on the next socket, same id and same events.
	for (FBatch& Batch : InFlight) Batch.bSent = false;
}

void UTelemetrySubsystem::OnSocketConnected()
{
	const double Now = FPlatformTime::Seconds();
	if (bEverConnected) Stats.Reconnects++;
	bEverConnected = true;
	State = EState::Open;
	StateSince = LastSendAt = Now;
	PingSentAt = 0;
	for (FBatch& Batch : InFlight) // oldest first; a batch waiting out a retry delay keeps waiting
	{
		if (Batch.RetryAt <= Now) SendBatch(Batch);
	}
	CutBatches(false);
}

void UTelemetrySubsystem::OnSocketError(const FString& Error)
{
	// IWebSocket reports no HTTP status for a refused upgrade (only a backend-specific message), and a 401
	// (token expired, or the server's keys changed) is the refusal a client can fix: renew before the next try.
	bRenewBeforeConnect = true;
	ScheduleReconnect(FString::Printf(TEXT("cannot connect: %s"), *Error), true);
}

void UTelemetrySubsystem::OnSocketClosed(int32 StatusCode, const FString& Reason, bool bWasClean)
{
	// 1001 is the server's idle or age limit; anything else is a network or server failure. Both reconnect.
	ScheduleReconnect(FString::Printf(TEXT("closed with %d %s"), StatusCode, *Reason), true);
}

void UTelemetrySubsystem::OnSocketMessage(const FString& Text)
{
	TSharedPtr<FJsonObject> Frame;
	if (!FJsonSerializer::Deserialize(TJsonReaderFactory<>::Create(Text), Frame) || !Frame.IsValid()) return;
	bProgressed = true;
	PingSentAt = 0; // any answer proves the socket alive
	FString Type, Id;
	Frame->TryGetStringField(TEXT("type"), Type);
	Frame->TryGetStringField(TEXT("id"), Id);
	// Acks may come in any order: match by id. No match = a pong, or the answer to a re-send already acked.
	const int32 Index = InFlight.IndexOfByPredicate([&Id](const FBatch& Batch) { return Batch.Id == Id; });
	if (Index == INDEX_NONE) return;
	if (Type == TEXT("ack")) OnAck(*Frame, Index);
	else if (Type == TEXT("error")) OnErrorFrame(*Frame, Index);
}

void UTelemetrySubsystem::OnAck(const FJsonObject& Frame, int32 BatchIndex)
{
	const FBatch& Batch = InFlight[BatchIndex];
	const TArray<TSharedPtr<FJsonValue>>* Rejected = nullptr;
	int32 RejectedCount = 0;
	if (Frame.TryGetArrayField(TEXT("rejected"), Rejected))
	{
		RejectedCount = Rejected->Num();
		const TSharedPtr<FJsonObject>* First = nullptr;
		if (RejectedCount > 0 && (*Rejected)[0]->TryGetObject(First))
		{
			// A rejected event is a bug in the game's events: re-sending cannot help, so say what it was.
			FString Error, Message;
			(*First)->TryGetStringField(TEXT("error"), Error);
			(*First)->TryGetStringField(TEXT("message"), Message);
			UE_LOG(LogTelemetry, Warning, TEXT("The server rejected %d event(s) of batch %s, e.g. %s: %s"), RejectedCount, *Batch.Id, *Error, *Message);
		}
	}
	int32 Accepted = 0;
	if (!Frame.TryGetNumberField(TEXT("accepted"), Accepted)) Accepted = Batch.EventCount - RejectedCount;
	Stats.Accepted += Accepted;
	Stats.Rejected += Batch.EventCount - Accepted;
	InFlight.RemoveAt(BatchIndex);
	CutBatches(false); // a slot in the window is free
}

void UTelemetrySubsystem::OnErrorFrame(const FJsonObject& Frame, int32 BatchIndex)
{
	FBatch& Batch = InFlight[BatchIndex];
	FString Code, Message;
	Frame.TryGetStringField(TEXT("error"), Code);
	Frame.TryGetStringField(TEXT("message"), Message);
	if (Code == TEXT("rate_limited") || Code == TEXT("stream_unavailable"))
	{
		// The server could not take it now: the same batch goes out again later, after the wait it asks for.
		double RetryAfterMs = 0;
		Frame.TryGetNumberField(TEXT("retry_after_ms"), RetryAfterMs);
		Batch.bSent = false;
		Batch.RetryAt = FPlatformTime::Seconds() + FMath::Max(RetryAfterMs / 1000.0, BackoffDelay(Batch.RetryAttempt++, 0.5));
		return;
	}
	// Any other code refuses the whole batch for good (malformed, too large…): re-sending cannot help.
	UE_LOG(LogTelemetry, Warning, TEXT("The server refused batch %s (%d events): %s %s"), *Batch.Id, Batch.EventCount, *Code, *Message);
	Stats.Rejected += Batch.EventCount;
	InFlight.RemoveAt(BatchIndex);
	CutBatches(false);
}

void UTelemetrySubsystem::FinishClose()
{
	int32 Unconfirmed = QueuedCount();
	for (const FBatch& Batch : InFlight) Unconfirmed += Batch.EventCount;
	if (Unconfirmed > 0)
	{
		UE_LOG(LogTelemetry, Warning, TEXT("Closing with %d event(s) not confirmed by the server"), Unconfirmed);
		Stats.Dropped += Unconfirmed;
	}
	State = EState::Closed;
	bClosing = false;
	DropSocket();
	Queue.Reset();
	QueueHead = 0;
	InFlight.Reset();
	if (OnClosedAfterFlush)
	{
		TFunction<void(bool)> Done = MoveTemp(OnClosedAfterFlush);
		OnClosedAfterFlush = nullptr;
		Done(Unconfirmed == 0);
	}
}

// ---- identity (ARCHITECTURE.md "Identity") ----

void UTelemetrySubsystem::RenewIdentity(TFunction<void(bool bOk)> Done)
{
	if (RefreshToken.IsEmpty() || FPlatformTime::Seconds() >= RefreshExpiresAt)
	{
		LoginAsGuest(MoveTemp(Done));
		return;
	}
	const FString Url = WithSlash(IdentityUrl) + TEXT("refresh-access-token?refresh_token=") + FGenericPlatformHttp::UrlEncode(RefreshToken);
	HttpGet(Url, [this, Done](int32 Status, TSharedPtr<FJsonObject> Body)
	{
		if (Status == 200 && Body.IsValid() && TakeTokens(*Body))
		{
			Done(true);
		}
		else if (Status >= 400 && Status < 500)
		{
			RefreshToken.Reset(); // refused: log in again as the same guest
			LoginAsGuest(Done);
		}
		else
		{
			Done(false); // unreachable or failing: a new login would not help, backing off will
		}
	});
}

void UTelemetrySubsystem::LoginAsGuest(TFunction<void(bool bOk)> Done)
{
	FString Url = WithSlash(IdentityUrl) + TEXT("login-as-guest");
	const bool bReturning = !UserId.IsEmpty() && !GuestSecret.IsEmpty();
	if (bReturning)
	{
		Url += TEXT("?user_id=") + FGenericPlatformHttp::UrlEncode(UserId) + TEXT("&guest_secret=") + FGenericPlatformHttp::UrlEncode(GuestSecret);
	}
	HttpGet(Url, [this, Done, bReturning](int32 Status, TSharedPtr<FJsonObject> Body)
	{
		if (Status == 200 && Body.IsValid() && TakeTokens(*Body))
		{
			Done(true);
			return;
		}
		if (bReturning && Status == 401)
		{
			// The saved guest is unknown to this server (another deployment, or its data was reset): a new
			// player id is better than no telemetry at all.
			UE_LOG(LogTelemetry, Warning, TEXT("Saved guest %s was refused; logging in as a new guest"), *UserId);
			UserId.Reset();
			GuestSecret.Reset();
			LoginAsGuest(Done);
			return;
		}
		UE_LOG(LogTelemetry, Warning, TEXT("Guest login at %s failed (HTTP %d); will retry"), *IdentityUrl, Status);
		Done(false);
	});
}

bool UTelemetrySubsystem::TakeTokens(const FJsonObject& Body)
{
	FString Value;
	if (!Body.TryGetStringField(TEXT("auth_token"), Value) || Value.IsEmpty()) return false;
	AuthToken = Value;
	// A refresh may or may not rotate the refresh token; only a login carries the guest's credentials.
	if (Body.TryGetStringField(TEXT("refresh_token"), Value) && !Value.IsEmpty()) RefreshToken = Value;
	bool bNewGuest = false;
	if (Body.TryGetStringField(TEXT("user_id"), Value) && !Value.IsEmpty() && Value != UserId)
	{
		UserId = Value;
		bNewGuest = true;
	}
	if (Body.TryGetStringField(TEXT("guest_secret"), Value) && !Value.IsEmpty() && Value != GuestSecret)
	{
		GuestSecret = Value;
		bNewGuest = true;
	}
	const double Now = FPlatformTime::Seconds();
	double Lifetime = 900.0;
	Body.TryGetNumberField(TEXT("auth_token_expires_in"), Lifetime);
	// Renew 20% early (at most a minute): a token must not expire between this check and the handshake.
	AuthRenewAt = Now + Lifetime - FMath::Min(60.0, Lifetime * 0.2);
	double RefreshLifetime = 0;
	if (Body.TryGetNumberField(TEXT("refresh_token_expires_in"), RefreshLifetime)) RefreshExpiresAt = Now + RefreshLifetime;
	else if (RefreshExpiresAt <= Now) RefreshExpiresAt = Now + 6 * 24 * 3600.0;

	if (bNewGuest && !GuestSecret.IsEmpty())
	{
		UTelemetryGuestSave* Save = Cast<UTelemetryGuestSave>(UGameplayStatics::CreateSaveGameObject(UTelemetryGuestSave::StaticClass()));
		Save->UserId = UserId;
		Save->GuestSecret = GuestSecret;
		UGameplayStatics::SaveGameToSlot(Save, SaveSlotName, 0);
	}
	return true;
}

void UTelemetrySubsystem::HttpGet(const FString& Url, TFunction<void(int32 Status, TSharedPtr<FJsonObject> Body)> Done)
{
	const TSharedRef<IHttpRequest, ESPMode::ThreadSafe> Request = FHttpModule::Get().CreateRequest();
	Request->SetURL(Url);
	Request->SetVerb(TEXT("GET"));
	Request->SetTimeout(HttpTimeoutSeconds);
	// Weak: the request may finish after the subsystem is gone (the game quitting), with nobody left to tell.
	Request->OnProcessRequestComplete().BindWeakLambda(this, [Done](FHttpRequestPtr, FHttpResponsePtr Response, bool bConnected)
	{
		if (!bConnected || !Response.IsValid())
		{
			Done(0, nullptr); // 0 = no HTTP answer at all
			return;
		}
		TSharedPtr<FJsonObject> Body;
		FJsonSerializer::Deserialize(TJsonReaderFactory<>::Create(Response->GetContentAsString()), Body);
		Done(Response->GetResponseCode(), Body);
	});
	Request->ProcessRequest();
}
