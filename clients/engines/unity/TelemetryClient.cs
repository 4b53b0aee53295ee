// The telemetry client's core: queue, batch and deliver events over one WebSocket, with acks and re-sends.
// Pure C# (System.* only, no UnityEngine), so it compiles with Mono's mcs for the tests and inside Unity alike;
// TelemetryComponent.cs is the thin Unity wrapper. Protocol: ARCHITECTURE.md, "Event" and "WebSocket API".
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GameTelemetry
{
    /// <summary>
    /// Sends a game's events to the telemetry backend. <see cref="Track"/> only queues (it never blocks on the
    /// network); a background task logs in as a guest, keeps one WebSocket open, sends batches and keeps each
    /// batch until the server acks it. After a dropped connection every unacked batch is sent again with the same
    /// id and the same events: the server stores an event once per (player, event_id, event_type, updated_at),
    /// so a re-send never duplicates a row. Thread-safe.
    /// </summary>
    /// <example>
    /// var client = new TelemetryClient(new TelemetryOptions { BaseUrl = "http://127.0.0.1:8787/" });
    /// client.Start();
    /// client.Track("Login", "hello");
    /// client.Close(TimeSpan.FromSeconds(5)); // flushes: waits for the acks
    /// </example>
    public sealed class TelemetryClient : IDisposable
    {
        /// <summary>How often the background task looks at timers (flush interval, retries, pings).</summary>
        private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(50);
        private static readonly Stopwatch Clock = Stopwatch.StartNew();
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);
        private const string RetryableRateLimited = "rate_limited";
        private const string RetryableStreamUnavailable = "stream_unavailable";

        private readonly TelemetryOptions options;
        private readonly GuestSession session;
        private readonly CancellationTokenSource stopping = new CancellationTokenSource();
        /// <summary>Released to wake the background task early (a full batch, an ack, a closed socket).</summary>
        private readonly SemaphoreSlim wake = new SemaphoreSlim(0, 1);

        // Everything below is guarded by `gate`. Network calls are never made while holding it.
        private readonly object gate = new object();
        private readonly Queue<QueuedEvent> queue = new Queue<QueuedEvent>();
        private long queuedBytes;
        /// <summary>Batches built and not yet acked or refused, oldest first: at most MaxBatchesInFlight.</summary>
        private readonly List<Batch> batches = new List<Batch>();
        private readonly Dictionary<string, long> rejectedByCode = new Dictionary<string, long>();
        private readonly Random random = new Random();
        private long lastSequence;   // of the last tracked event; events are numbered from 1
        private long flushThrough;   // events up to this number are sent without waiting for a full batch
        private long tracked, acked, rejected, refused, dropped, resentBatches, retryableErrors, reconnects, connectionsOpened;
        private Task pump;
        private bool closed;

        public TelemetryClient(TelemetryOptions options)
        {
            if (options == null) throw new ArgumentNullException("options");
            options.Validate();
            this.options = options;
            session = new GuestSession(options, Log);
        }

        /// <summary>The player id (the guest's <c>user_id</c>); null until the first login.</summary>
        public string PlayerId
        {
            get { return session.UserId; }
        }

        /// <summary>The guest's secret: store it with <see cref="PlayerId"/> to log in as the same player next time.</summary>
        public string GuestSecret
        {
            get { return session.GuestSecret; }
        }

        /// <summary>Starts the background task: login, connection, sending. Events tracked earlier wait in the queue.</summary>
        public void Start()
        {
            lock (gate)
            {
                if (pump != null || closed) return;
                pump = Task.Run(() => RunAsync());
            }
        }

        /// <summary>
        /// Queues an event stamped with a new unique <c>event_id</c> and the current UTC time, and returns the id.
        /// <paramref name="eventData"/> is stored as it is (often JSON text); null stores null. When the queue is
        /// full the oldest queued event is dropped and counted. Throws <see cref="ArgumentException"/> for an event
        /// the server would refuse (an empty, long or unprintable type; data over 32 KiB).
        /// </summary>
        public string Track(string eventType, string eventData = null)
        {
            ValidateEvent(eventType, eventData);
            // A unique id per event: the server's dedup key is (player, event_id, event_type, updated_at), so an id
            // reused within the same microsecond and type would be merged into one row.
            string eventId = Guid.NewGuid().ToString();
            string json = EventJson(eventId, eventType, DateTime.UtcNow, eventData);
            int bytes = Utf8.GetByteCount(json);
            if (bytes > options.MaxFrameBytes - 512)
            {
                throw new ArgumentException("the event is " + bytes + " bytes as JSON, too large for one frame", "eventData");
            }

            bool batchFull;
            long droppedNow = 0;
            lock (gate)
            {
                tracked++;
                if (closed)
                {
                    dropped++;
                    return eventId;
                }
                if (queue.Count >= options.MaxQueuedEvents)
                {
                    queuedBytes -= queue.Dequeue().Bytes;
                    droppedNow = ++dropped;
                }
                queue.Enqueue(new QueuedEvent(++lastSequence, json, bytes, Clock.Elapsed));
                queuedBytes += bytes;
                batchFull = queue.Count >= options.BatchSize || queuedBytes >= options.MaxFrameBytes;
            }
            if (IsPowerOfTen(droppedNow))
            {
                Log("the queue is full (" + options.MaxQueuedEvents + " events): dropping the oldest; " + droppedNow + " dropped so far");
            }
            if (batchFull) Wake();
            return eventId;
        }

        /// <summary>
        /// Sends what is queued now and waits until every event tracked before the call is acked (or rejected,
        /// refused or dropped). Returns false when <paramref name="timeout"/> passes first.
        /// </summary>
        public async Task<bool> FlushAsync(TimeSpan timeout)
        {
            long target;
            lock (gate)
            {
                target = lastSequence;
                if (target > flushThrough) flushThrough = target;
            }
            Wake();
            TimeSpan deadline = Clock.Elapsed + timeout;
            while (true)
            {
                lock (gate)
                {
                    if (SettledThrough(target)) return true;
                }
                if (Clock.Elapsed >= deadline) return false;
                await Task.Delay(20).ConfigureAwait(false);
            }
        }

        /// <summary>Blocking <see cref="FlushAsync"/>; safe on Unity's main thread (the waiting runs on the thread pool).</summary>
        public bool Flush(TimeSpan timeout)
        {
            return Task.Run(() => FlushAsync(timeout)).GetAwaiter().GetResult();
        }

        /// <summary>
        /// Flushes (up to <paramref name="timeout"/>), then closes the socket and stops. Events tracked afterwards
        /// are dropped. Returns true when every tracked event was acked (or rejected, refused or dropped).
        /// </summary>
        public async Task<bool> CloseAsync(TimeSpan timeout)
        {
            Task running;
            lock (gate)
            {
                if (closed) return SettledThrough(lastSequence);
                closed = true;
                running = pump;
            }
            bool flushed = await FlushAsync(timeout).ConfigureAwait(false);
            stopping.Cancel();
            Wake();
            if (running != null) await Task.WhenAny(running, Task.Delay(TimeSpan.FromSeconds(2))).ConfigureAwait(false);
            var stats = GetStats();
            if (!flushed) Log("closed with " + stats.Pending + " events not acked; they are lost");
            Log("closed: " + stats);
            return flushed;
        }

        /// <summary>Blocking <see cref="CloseAsync"/>, for OnApplicationQuit and console programs.</summary>
        public bool Close(TimeSpan timeout)
        {
            return Task.Run(() => CloseAsync(timeout)).GetAwaiter().GetResult();
        }

        /// <summary>Closes with a 5-second flush.</summary>
        public void Dispose()
        {
            Close(TimeSpan.FromSeconds(5));
        }

        public TelemetryStats GetStats()
        {
            lock (gate)
            {
                long inBatches = 0;
                foreach (var batch in batches) inBatches += batch.Count;
                return new TelemetryStats
                {
                    Tracked = tracked,
                    Acked = acked,
                    Rejected = rejected,
                    Refused = refused,
                    Dropped = dropped,
                    Pending = queue.Count + inBatches,
                    ResentBatches = resentBatches,
                    RetryableErrors = retryableErrors,
                    Reconnects = reconnects,
                    RejectedByCode = new Dictionary<string, long>(rejectedByCode),
                };
            }
        }

        // ------------------------------------------------------------------------------------------------------
        // Events and frames

        /// <summary>The wire form of a timestamp: ISO-8601 UTC with microseconds, as the server stores it.</summary>
        public static string FormatTimestamp(DateTime time)
        {
            return time.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        }

        internal static string EventJson(string eventId, string eventType, DateTime updatedAt, string eventData)
        {
            var json = new StringBuilder(128 + (eventData == null ? 0 : eventData.Length));
            json.Append("{\"event_id\":");
            TelemetryJson.WriteString(json, eventId);
            json.Append(",\"event_type\":");
            TelemetryJson.WriteString(json, eventType);
            json.Append(",\"updated_at\":\"").Append(FormatTimestamp(updatedAt)).Append('"');
            if (eventData != null)
            {
                json.Append(",\"event_data\":");
                TelemetryJson.WriteString(json, eventData);
            }
            return json.Append('}').ToString();
        }

        /// <summary>The server's rules for event_type and event_data, checked here so a bad call fails at the caller.</summary>
        private static void ValidateEvent(string eventType, string eventData)
        {
            if (string.IsNullOrEmpty(eventType) || eventType.Length > TelemetryOptions.MaxEventTypeLength)
            {
                throw new ArgumentException("eventType must be 1–" + TelemetryOptions.MaxEventTypeLength + " characters", "eventType");
            }
            for (int i = 0; i < eventType.Length; i++)
            {
                char c = eventType[i];
                bool control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
                bool loneSurrogate = char.IsSurrogate(c) && !char.IsSurrogatePair(eventType, char.IsHighSurrogate(c) ? i : Math.Max(0, i - 1));
                // It names a partition directory of the Delta table, hence printable characters only.
                if (control || loneSurrogate) throw new ArgumentException("eventType must contain only printable characters", "eventType");
            }
            if (eventData != null && Utf8.GetByteCount(eventData) > TelemetryOptions.MaxEventDataBytes)
            {
                throw new ArgumentException("eventData must be at most " + TelemetryOptions.MaxEventDataBytes + " bytes as UTF-8", "eventData");
            }
        }

        /// <summary>
        /// Under gate: the next batch to put on <paramref name="connection"/>. First any batch waiting to be
        /// (re)sent, oldest first, once its retry time has come; then a new batch from the queue when one is due and
        /// the in-flight window has room.
        /// </summary>
        private Batch NextBatchToSend(int connection, TimeSpan now)
        {
            foreach (var waiting in batches)
            {
                if (waiting.SentOn != 0 || waiting.RetryAt > now) continue;
                if (waiting.TimesSent > 0) resentBatches++;
                return waiting.MarkSent(connection, now);
            }
            if (batches.Count >= options.MaxBatchesInFlight || !BatchDue(now)) return null;
            var fresh = TakeBatch();
            batches.Add(fresh);
            return fresh.MarkSent(connection, now);
        }

        private bool BatchDue(TimeSpan now)
        {
            if (queue.Count == 0) return false;
            QueuedEvent oldest = queue.Peek();
            return queue.Count >= options.BatchSize
                || queuedBytes >= options.MaxFrameBytes
                || now - oldest.TrackedAt >= options.FlushInterval
                || oldest.Sequence <= flushThrough;
        }

        /// <summary>Under gate: moves up to BatchSize queued events into a frame that stays under MaxFrameBytes.</summary>
        private Batch TakeBatch()
        {
            string id = Guid.NewGuid().ToString("N");
            var frame = new StringBuilder();
            frame.Append("{\"action\":\"put-records\",\"id\":");
            TelemetryJson.WriteString(frame, id);
            frame.Append(",\"events\":[");
            int bytes = Utf8.GetByteCount(frame.ToString()) + 2; // and the closing "]}"
            int count = 0;
            long firstSequence = queue.Peek().Sequence;
            while (queue.Count > 0 && count < options.BatchSize)
            {
                QueuedEvent next = queue.Peek();
                int added = next.Bytes + (count > 0 ? 1 : 0); // the comma
                if (count > 0 && bytes + added > options.MaxFrameBytes) break;
                queue.Dequeue();
                queuedBytes -= next.Bytes;
                if (count > 0) frame.Append(',');
                frame.Append(next.Json);
                bytes += added;
                count++;
            }
            frame.Append("]}");
            return new Batch(id, frame.ToString(), count, firstSequence);
        }

        /// <summary>Under gate: true when no event numbered up to <paramref name="sequence"/> is still pending.</summary>
        private bool SettledThrough(long sequence)
        {
            if (queue.Count > 0 && queue.Peek().Sequence <= sequence) return false;
            foreach (var batch in batches)
            {
                if (batch.FirstSequence <= sequence) return false;
            }
            return true;
        }

        // ------------------------------------------------------------------------------------------------------
        // The connection loop

        private async Task RunAsync()
        {
            int failures = 0;
            int connectionNumber = 0;
            while (!stopping.IsCancellationRequested)
            {
                TelemetryConnection connection = null;
                bool rotating = false;
                try
                {
                    connection = await OpenAsync(++connectionNumber).ConfigureAwait(false);
                    rotating = await ServeAsync(connection).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception error)
                {
                    Log("connection " + connectionNumber + " failed: " + Describe(error));
                }
                finally
                {
                    if (connection != null)
                    {
                        // A connection that got answers worked: the next one starts again from the shortest delay.
                        if (connection.ReceivedAny) failures = 0;
                        connection.Dispose();
                    }
                    lock (gate)
                    {
                        // Whatever was on the lost socket may or may not have been stored: send it all again.
                        foreach (var batch in batches) batch.SentOn = 0;
                    }
                }
                if (stopping.IsCancellationRequested || rotating) continue;
                TimeSpan delay;
                lock (gate) delay = Backoff(failures++);
                Log("reconnecting in " + (int)delay.TotalMilliseconds + " ms");
                try
                {
                    await Task.Delay(delay, stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        private async Task<TelemetryConnection> OpenAsync(int number)
        {
            string token = await session.GetAccessTokenAsync(stopping.Token).ConfigureAwait(false);
            var socket = new ClientWebSocket();
            try
            {
                using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token))
                {
                    timeout.CancelAfter(options.RequestTimeout);
                    await socket.ConnectAsync(options.SocketUri(token), timeout.Token).ConfigureAwait(false);
                }
            }
            catch
            {
                socket.Dispose();
                // The usual refusal is 401 for a token the server no longer accepts (it restarted with new keys,
                // or the token expired). Mono's ClientWebSocket hides the status code, so any failed upgrade
                // renews the token: refresh, or log in again as the same guest if the refresh token is refused.
                session.Invalidate();
                throw;
            }
            lock (gate)
            {
                if (connectionsOpened++ > 0) reconnects++; // attempts that failed do not count
            }
            Log("connected as player " + session.UserId + " (connection " + number + ")");
            return new TelemetryConnection(number, socket, Clock.Elapsed, stopping.Token, HandleFrame, Wake);
        }

        /// <summary>
        /// Sends batches and pings on <paramref name="connection"/> until it fails or must be replaced. Returns true
        /// when the connection was retired on purpose (its age limit), so the next one opens without a delay.
        /// </summary>
        private async Task<bool> ServeAsync(TelemetryConnection connection)
        {
            TimeSpan? retiringSince = null;
            while (true)
            {
                if (stopping.IsCancellationRequested)
                {
                    await connection.CloseAsync("client closing").ConfigureAwait(false);
                    return false;
                }
                if (connection.Receiving.IsCompleted)
                {
                    Log("connection " + connection.Number + " ended: " + connection.EndReason);
                    return false;
                }
                TimeSpan now = Clock.Elapsed;
                string problem = HealthProblem(connection, now);
                if (problem != null)
                {
                    Log("connection " + connection.Number + ": " + problem + "; replacing it");
                    return false;
                }
                if (retiringSince == null && now - connection.OpenedAt >= options.MaxConnectionAge)
                {
                    // The server ends connections at 2 hours; leaving first, once the acks are in, loses nothing.
                    retiringSince = now;
                    Log("connection " + connection.Number + " reached MaxConnectionAge (the server allows 2 hours); replacing it once its batches are acked");
                }
                if (retiringSince != null)
                {
                    if (!HasBatchesOn(connection.Number) || now - retiringSince.Value >= options.AckTimeout)
                    {
                        await connection.CloseAsync("replacing an old connection").ConfigureAwait(false);
                        return true;
                    }
                }
                else
                {
                    await SendDueAsync(connection, now).ConfigureAwait(false);
                    if (connection.PingDue(now, options.PingAfterIdle)) await connection.SendPingAsync(now).ConfigureAwait(false);
                }
                await WaitForWorkAsync().ConfigureAwait(false);
            }
        }

        private async Task SendDueAsync(TelemetryConnection connection, TimeSpan now)
        {
            while (true)
            {
                Batch batch;
                lock (gate) batch = NextBatchToSend(connection.Number, now);
                if (batch == null) return;
                await connection.SendAsync(batch.Frame, now).ConfigureAwait(false);
            }
        }

        /// <summary>A half-open socket shows up only as silence: no ack, or no pong, in time.</summary>
        private string HealthProblem(TelemetryConnection connection, TimeSpan now)
        {
            if (connection.PingUnansweredFor(now) > options.PongTimeout) return "no pong in " + options.PongTimeout.TotalSeconds + " s";
            lock (gate)
            {
                foreach (var batch in batches)
                {
                    if (batch.SentOn == connection.Number && now - batch.SentAt > options.AckTimeout)
                    {
                        return "no ack for batch " + batch.Id + " in " + options.AckTimeout.TotalSeconds + " s";
                    }
                }
            }
            return null;
        }

        private bool HasBatchesOn(int connection)
        {
            lock (gate)
            {
                foreach (var batch in batches)
                {
                    if (batch.SentOn == connection) return true;
                }
                return false;
            }
        }

        // ------------------------------------------------------------------------------------------------------
        // Server frames (called on the connection's receive loop)

        private void HandleFrame(TelemetryConnection connection, string text)
        {
            IDictionary<string, object> frame = null;
            try
            {
                frame = TelemetryJson.Parse(text) as IDictionary<string, object>;
            }
            catch (FormatException)
            {
                // reported below
            }
            if (frame == null)
            {
                Log("ignoring a frame that is not a JSON object: " + Shorten(text));
                return;
            }
            switch (TelemetryJson.GetString(frame, "type"))
            {
                case "ack": OnAck(frame); break;
                case "error": OnError(frame); break;
                case "pong": connection.PongReceived(); break;
                default: Log("ignoring an unknown frame: " + Shorten(text)); break;
            }
        }

        private void OnAck(IDictionary<string, object> frame)
        {
            string id = TelemetryJson.GetString(frame, "id");
            object rejectedValue;
            frame.TryGetValue("rejected", out rejectedValue);
            var rejections = rejectedValue as List<object> ?? new List<object>();
            var firstOfCode = new List<string>();
            lock (gate)
            {
                Batch batch = FindBatch(id);
                // A second ack for a batch sent twice (its first ack was in flight at a reconnect) changes nothing.
                if (batch == null) return;
                batches.Remove(batch);
                acked += (long)(TelemetryJson.GetNumber(frame, "accepted") ?? 0);
                rejected += rejections.Count;
                foreach (var entry in rejections)
                {
                    var rejection = entry as IDictionary<string, object>;
                    string code = (rejection == null ? null : TelemetryJson.GetString(rejection, "error")) ?? "unknown";
                    long seen;
                    rejectedByCode.TryGetValue(code, out seen);
                    rejectedByCode[code] = seen + 1;
                    if (seen == 0) firstOfCode.Add(code + ": " + (rejection == null ? "" : TelemetryJson.GetString(rejection, "message")));
                }
            }
            foreach (var message in firstOfCode) Log("the server rejected an event (" + message + ")");
            Wake(); // a place in the in-flight window is free
        }

        private void OnError(IDictionary<string, object> frame)
        {
            string id = TelemetryJson.GetString(frame, "id");
            string code = TelemetryJson.GetString(frame, "error") ?? "unknown";
            string message = TelemetryJson.GetString(frame, "message") ?? "";
            string report;
            lock (gate)
            {
                Batch batch = FindBatch(id);
                if (batch == null)
                {
                    report = "the server sent an error (" + code + "): " + message;
                }
                else if (code == RetryableRateLimited || code == RetryableStreamUnavailable)
                {
                    // The server could not take the batch now: same batch, same id, later.
                    retryableErrors++;
                    TimeSpan wait = Backoff(batch.RetryableFailures++);
                    double? retryAfterMs = TelemetryJson.GetNumber(frame, "retry_after_ms");
                    if (retryAfterMs.HasValue && TimeSpan.FromMilliseconds(retryAfterMs.Value) > wait) wait = TimeSpan.FromMilliseconds(retryAfterMs.Value);
                    batch.SentOn = 0;
                    batch.RetryAt = Clock.Elapsed + wait;
                    report = "batch " + batch.Id + ": " + code + "; sending it again in " + (int)wait.TotalMilliseconds + " ms";
                }
                else
                {
                    // Any other code means the server will never take this frame: keeping it would block the window.
                    batches.Remove(batch);
                    refused += batch.Count;
                    report = "batch " + batch.Id + " of " + batch.Count + " events refused for good (" + code + "): " + message;
                }
            }
            Log(report);
            Wake();
        }

        /// <summary>Under gate.</summary>
        private Batch FindBatch(string id)
        {
            if (id == null) return null;
            foreach (var batch in batches)
            {
                if (batch.Id == id) return batch;
            }
            return null;
        }

        // ------------------------------------------------------------------------------------------------------
        // Helpers

        /// <summary>Under gate (Random is not thread-safe). Exponential, capped, with jitter so clients spread out.</summary>
        private TimeSpan Backoff(int attempt)
        {
            double exponential = options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 20));
            double capped = Math.Min(options.RetryMaxDelay.TotalMilliseconds, exponential);
            return TimeSpan.FromMilliseconds(capped * (0.5 + 0.5 * random.NextDouble()));
        }

        private void Wake()
        {
            try
            {
                if (wake.CurrentCount == 0) wake.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread woke it first: once is enough.
            }
        }

        private async Task WaitForWorkAsync()
        {
            try
            {
                await wake.WaitAsync(Tick, stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // stopping: the loop sees it
            }
        }

        private void Log(string message)
        {
            var log = options.Log;
            if (log == null) return;
            try
            {
                log("[telemetry] " + message);
            }
            catch
            {
                // A failing logger must not stop the delivery of events.
            }
        }

        private static bool IsPowerOfTen(long n)
        {
            while (n >= 10 && n % 10 == 0) n /= 10;
            return n == 1;
        }

        private static string Shorten(string text)
        {
            return text.Length <= 200 ? text : text.Substring(0, 200) + "…";
        }

        internal static string Describe(Exception error)
        {
            var aggregate = error as AggregateException;
            if (aggregate != null && aggregate.InnerExceptions.Count == 1) error = aggregate.InnerExceptions[0];
            string text = error.GetType().Name + ": " + error.Message;
            Exception inner = error.InnerException;
            return inner == null || text.Contains(inner.Message) ? text : text + " (" + inner.Message + ")";
        }

        // ------------------------------------------------------------------------------------------------------
        // State types

        private sealed class QueuedEvent
        {
            public QueuedEvent(long sequence, string json, int bytes, TimeSpan trackedAt)
            {
                Sequence = sequence;
                Json = json;
                Bytes = bytes;
                TrackedAt = trackedAt;
            }

            public long Sequence { get; private set; }
            public string Json { get; private set; }
            public int Bytes { get; private set; }
            public TimeSpan TrackedAt { get; private set; }
        }

        /// <summary>A put-records frame, built once: every re-send is byte for byte the same (same id, same events).</summary>
        private sealed class Batch
        {
            public Batch(string id, string frame, int count, long firstSequence)
            {
                Id = id;
                Frame = frame;
                Count = count;
                FirstSequence = firstSequence;
            }

            public string Id { get; private set; }
            public string Frame { get; private set; }
            public int Count { get; private set; }
            public long FirstSequence { get; private set; }
            /// <summary>The connection it was last sent on, 0 when it waits to be sent.</summary>
            public int SentOn { get; set; }
            public TimeSpan SentAt { get; private set; }
            public int TimesSent { get; private set; }
            public TimeSpan RetryAt { get; set; }
            public int RetryableFailures { get; set; }

            public Batch MarkSent(int connection, TimeSpan now)
            {
                SentOn = connection;
                SentAt = now;
                TimesSent++;
                return this;
            }
        }
    }
}
