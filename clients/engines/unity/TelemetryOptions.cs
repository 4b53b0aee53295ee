// Settings and counters of the telemetry client. Pure C#: no UnityEngine.
using System;
using System.Collections.Generic;

namespace GameTelemetry
{
    /// <summary>How a <see cref="TelemetryClient"/> connects, batches and retries. The defaults suit a game.</summary>
    public sealed class TelemetryOptions
    {
        /// <summary>The server's protocol limits (ARCHITECTURE.md, "WebSocket API" and "Event").</summary>
        public const int MaxEventsPerBatch = 500;
        public const int MaxFrameBytesLimit = 128 * 1024;
        public const int MaxEventTypeLength = 64;
        public const int MaxEventDataBytes = 32 * 1024;

        /// <summary>
        /// The identity service (<c>/login-as-guest</c>, <c>/refresh-access-token</c>); locally also the intake.
        /// <c>npm start</c> listens on <c>http://127.0.0.1:8787/</c>.
        /// </summary>
        public string BaseUrl { get; set; } = "http://127.0.0.1:8787/";

        /// <summary>
        /// The WebSocket intake. Empty: derived from <see cref="BaseUrl"/> (http → ws, https → wss), as locally.
        /// On AWS it is the WebSocket API's URL, <c>wss://…/&lt;stage&gt;</c>.
        /// </summary>
        public string WebSocketUrl { get; set; }

        /// <summary>A returning guest's credentials (from an earlier run); empty to log in as a new guest.</summary>
        public string UserId { get; set; }
        public string GuestSecret { get; set; }

        /// <summary>A batch is sent once it holds this many events (1–500)…</summary>
        public int BatchSize { get; set; } = 100;

        /// <summary>…or once its oldest event has waited this long.</summary>
        public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

        /// <summary>
        /// A frame is closed before it would exceed this many UTF-8 bytes. The server refuses frames over 128 KiB
        /// (API Gateway's limit); the default keeps a wide margin.
        /// </summary>
        public int MaxFrameBytes { get; set; } = 96 * 1024;

        /// <summary>Events waiting to be batched; past this the oldest are dropped (and counted).</summary>
        public int MaxQueuedEvents { get; set; } = 10000;

        /// <summary>Batches sent and not yet acked; the queue waits while this many are out.</summary>
        public int MaxBatchesInFlight { get; set; } = 8;

        /// <summary>An idle socket sends a ping after this long (the server closes sockets idle for 10 minutes).</summary>
        public TimeSpan PingAfterIdle { get; set; } = TimeSpan.FromMinutes(4);

        /// <summary>A socket whose ping is not answered in this time is treated as dead and replaced.</summary>
        public TimeSpan PongTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>A socket whose oldest batch is not acked in this time is treated as dead and replaced.</summary>
        public TimeSpan AckTimeout { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>The socket is replaced, after its acks are in, once this old (the server's limit is 2 hours).</summary>
        public TimeSpan MaxConnectionAge { get; set; } = TimeSpan.FromMinutes(110);

        /// <summary>Reconnects and retries wait base × 2^attempt (capped at the max), with jitter.</summary>
        public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(250);
        public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(30);

        /// <summary>The access token is refreshed this long before it expires.</summary>
        public TimeSpan TokenRefreshMargin { get; set; } = TimeSpan.FromSeconds(60);

        /// <summary>Timeout of one identity call or WebSocket handshake.</summary>
        public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

        /// <summary>Where the client reports what it does (connects, retries, refusals). Called on background threads.</summary>
        public Action<string> Log { get; set; }

        /// <summary>Throws one <see cref="ArgumentException"/> naming every invalid setting.</summary>
        internal void Validate()
        {
            var problems = new List<string>();
            Uri uri;
            if (!Uri.TryCreate(BaseUrl ?? "", UriKind.Absolute, out uri) || (uri.Scheme != "http" && uri.Scheme != "https"))
            {
                problems.Add("BaseUrl must be an http(s) URL, such as http://127.0.0.1:8787/");
            }
            if (!string.IsNullOrEmpty(WebSocketUrl) &&
                (!Uri.TryCreate(WebSocketUrl, UriKind.Absolute, out uri) || (uri.Scheme != "ws" && uri.Scheme != "wss")))
            {
                problems.Add("WebSocketUrl must be a ws(s) URL, or empty to derive it from BaseUrl");
            }
            if (string.IsNullOrEmpty(UserId) != string.IsNullOrEmpty(GuestSecret))
            {
                problems.Add("set both UserId and GuestSecret (a returning guest), or neither (a new guest)");
            }
            if (BatchSize < 1 || BatchSize > MaxEventsPerBatch) problems.Add("BatchSize must be 1–" + MaxEventsPerBatch);
            if (FlushInterval <= TimeSpan.Zero) problems.Add("FlushInterval must be positive");
            if (MaxFrameBytes < 4096 || MaxFrameBytes > MaxFrameBytesLimit) problems.Add("MaxFrameBytes must be 4096–" + MaxFrameBytesLimit);
            if (MaxQueuedEvents < 1) problems.Add("MaxQueuedEvents must be at least 1");
            if (MaxBatchesInFlight < 1) problems.Add("MaxBatchesInFlight must be at least 1");
            if (PingAfterIdle <= TimeSpan.Zero || PongTimeout <= TimeSpan.Zero || AckTimeout <= TimeSpan.Zero)
            {
                problems.Add("PingAfterIdle, PongTimeout and AckTimeout must be positive");
            }
            if (MaxConnectionAge <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero) problems.Add("MaxConnectionAge and RequestTimeout must be positive");
            if (TokenRefreshMargin < TimeSpan.Zero) problems.Add("TokenRefreshMargin must not be negative");
            if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay) problems.Add("RetryBaseDelay must be positive and at most RetryMaxDelay");
            if (problems.Count > 0) throw new ArgumentException("Invalid telemetry options: " + string.Join("; ", problems));
        }

        /// <summary>The WebSocket URL for an access token: the configured or derived URL plus <c>?auth_token=</c>.</summary>
        internal Uri SocketUri(string accessToken)
        {
            var builder = new UriBuilder(string.IsNullOrEmpty(WebSocketUrl) ? BaseUrl : WebSocketUrl);
            if (builder.Scheme == "http") builder.Scheme = "ws";
            else if (builder.Scheme == "https") builder.Scheme = "wss";
            string query = builder.Query.TrimStart('?');
            string token = "auth_token=" + Uri.EscapeDataString(accessToken);
            builder.Query = query.Length == 0 ? token : query + "&" + token;
            return builder.Uri;
        }
    }

    /// <summary>A snapshot of what a <see cref="TelemetryClient"/> has done so far.</summary>
    public sealed class TelemetryStats
    {
        /// <summary>Events given to <see cref="TelemetryClient.Track"/>.</summary>
        public long Tracked { get; internal set; }
        /// <summary>Events the server acked as stored: the delivery guarantee.</summary>
        public long Acked { get; internal set; }
        /// <summary>Events the server acked as invalid (one entry of an ack's <c>rejected</c>); see <see cref="RejectedByCode"/>.</summary>
        public long Rejected { get; internal set; }
        /// <summary>Events in batches the server refused for good with an error frame (not rate limiting).</summary>
        public long Refused { get; internal set; }
        /// <summary>Events dropped, oldest first, because the queue was full (or tracked after Close).</summary>
        public long Dropped { get; internal set; }
        /// <summary>Events tracked and not yet acked, rejected, refused or dropped.</summary>
        public long Pending { get; internal set; }
        /// <summary>Batches sent again: after a reconnect or a retryable error frame.</summary>
        public long ResentBatches { get; internal set; }
        /// <summary>Error frames that asked for a later retry (<c>rate_limited</c>, <c>stream_unavailable</c>).</summary>
        public long RetryableErrors { get; internal set; }
        /// <summary>Connections opened after the first one.</summary>
        public long Reconnects { get; internal set; }
        public IDictionary<string, long> RejectedByCode { get; internal set; }

        public override string ToString()
        {
            return string.Format(
                "{0} tracked, {1} acked, {2} rejected, {3} refused, {4} dropped, {5} pending; {6} reconnects, {7} batches re-sent, {8} retryable errors",
                Tracked, Acked, Rejected, Refused, Dropped, Pending, Reconnects, ResentBatches, RetryableErrors);
        }
    }
}
