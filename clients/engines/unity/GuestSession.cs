// The player's identity: a guest login and a fresh access token. Pure C#: HttpWebRequest, no UnityEngine.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GameTelemetry
{
    /// <summary>An identity call that failed; <see cref="StatusCode"/> is 0 when no HTTP answer came back.</summary>
    public sealed class IdentityException : Exception
    {
        public IdentityException(string message, int statusCode, Exception inner = null) : base(message, inner)
        {
            StatusCode = statusCode;
        }

        public int StatusCode { get; private set; }
    }

    /// <summary>
    /// Logs in as a guest (the game backend's Custom Identity Component API) and keeps an access token fresh:
    /// refresh before it expires; when the refresh token is refused, log in again as the same guest.
    /// Thread-safe; one login or refresh runs at a time.
    /// </summary>
    internal sealed class GuestSession
    {
        private static readonly Stopwatch Clock = Stopwatch.StartNew();
        private readonly Uri baseUri;
        private readonly TimeSpan refreshMargin;
        private readonly TimeSpan requestTimeout;
        private readonly Action<string> log;
        private readonly SemaphoreSlim oneAtATime = new SemaphoreSlim(1, 1);

        private string accessToken;
        private string refreshToken;
        private TimeSpan refreshAt;   // on Clock: when the access token is due for a refresh

        public GuestSession(TelemetryOptions options, Action<string> log)
        {
            string url = options.BaseUrl.EndsWith("/") ? options.BaseUrl : options.BaseUrl + "/";
            baseUri = new Uri(url);
            UserId = string.IsNullOrEmpty(options.UserId) ? null : options.UserId;
            GuestSecret = string.IsNullOrEmpty(options.GuestSecret) ? null : options.GuestSecret;
            refreshMargin = options.TokenRefreshMargin;
            requestTimeout = options.RequestTimeout;
            this.log = log;
        }

        /// <summary>The player id (the token's <c>sub</c>); null until the first login.</summary>
        public string UserId { get; private set; }

        /// <summary>With <see cref="UserId"/>, what a returning guest logs in with; store both to keep the player.</summary>
        public string GuestSecret { get; private set; }

        /// <summary>True when the access token should be refreshed now (it is missing or about to expire).</summary>
        public bool RefreshDue
        {
            get { return accessToken == null || Clock.Elapsed >= refreshAt; }
        }

        /// <summary>
        /// Makes the next <see cref="GetAccessTokenAsync"/> fetch a new token: after a refused WebSocket upgrade.
        /// Mono's ClientWebSocket does not say which status refused it, so every failed upgrade calls this.
        /// </summary>
        public void Invalidate()
        {
            refreshAt = TimeSpan.Zero;
        }

        /// <summary>A usable access token: logs in or refreshes first when needed.</summary>
        public async Task<string> GetAccessTokenAsync(CancellationToken cancel)
        {
            await oneAtATime.WaitAsync(cancel).ConfigureAwait(false);
            try
            {
                if (RefreshDue) await RenewAsync(cancel).ConfigureAwait(false);
                return accessToken;
            }
            finally
            {
                oneAtATime.Release();
            }
        }

        private async Task RenewAsync(CancellationToken cancel)
        {
            if (refreshToken != null)
            {
                try
                {
                    var refreshed = await GetJsonAsync("refresh-access-token?refresh_token=" + Uri.EscapeDataString(refreshToken), cancel)
                        .ConfigureAwait(false);
                    Accept(refreshed);
                    return;
                }
                catch (IdentityException error) when (error.StatusCode == 400 || error.StatusCode == 401)
                {
                    // The refresh token expired or the server no longer knows it: a login as the same guest follows.
                    log("refresh token refused (" + error.StatusCode + "); logging in again as guest " + UserId);
                    refreshToken = null;
                }
            }
            await LoginAsync(cancel).ConfigureAwait(false);
        }

        private async Task LoginAsync(CancellationToken cancel)
        {
            IDictionary<string, object> login;
            if (UserId == null)
            {
                login = await GetJsonAsync("login-as-guest", cancel).ConfigureAwait(false);
            }
            else
            {
                try
                {
                    string query = "?user_id=" + Uri.EscapeDataString(UserId) + "&guest_secret=" + Uri.EscapeDataString(GuestSecret);
                    login = await GetJsonAsync("login-as-guest" + query, cancel).ConfigureAwait(false);
                }
                catch (IdentityException error) when (error.StatusCode == 401)
                {
                    // The server does not know these credentials (saved for another backend, or its data was
                    // reset). Retrying them would never deliver another event; a new guest does.
                    log("guest " + UserId + " is unknown to " + baseUri + " (401); logging in as a new guest");
                    UserId = null;
                    GuestSecret = null;
                    login = await GetJsonAsync("login-as-guest", cancel).ConfigureAwait(false);
                }
            }
            string userId = TelemetryJson.GetString(login, "user_id");
            string secret = TelemetryJson.GetString(login, "guest_secret");
            if (string.IsNullOrEmpty(userId) || string.IsNullOrEmpty(secret))
            {
                throw new IdentityException("login-as-guest answered without user_id or guest_secret", 200);
            }
            bool isNew = UserId == null;
            UserId = userId;
            GuestSecret = secret;
            Accept(login);
            log((isNew ? "logged in as new guest " : "logged in again as guest ") + userId);
        }

        /// <summary>Takes the tokens of a login or refresh answer; a refresh answer may omit the refresh token.</summary>
        private void Accept(IDictionary<string, object> answer)
        {
            string token = TelemetryJson.GetString(answer, "auth_token");
            if (string.IsNullOrEmpty(token)) throw new IdentityException("the identity service answered without auth_token", 200);
            // The dev identity service and the game backend both send expires_in; 900 s is what they issue.
            double lifetimeSeconds = TelemetryJson.GetNumber(answer, "auth_token_expires_in") ?? 900;
            var lifetime = TimeSpan.FromSeconds(lifetimeSeconds);
            // Short-lived tokens (tests) are refreshed at half-life rather than never.
            var margin = refreshMargin < TimeSpan.FromTicks(lifetime.Ticks / 2) ? refreshMargin : TimeSpan.FromTicks(lifetime.Ticks / 2);
            accessToken = token;
            refreshAt = Clock.Elapsed + lifetime - margin;
            string refresh = TelemetryJson.GetString(answer, "refresh_token");
            if (!string.IsNullOrEmpty(refresh)) refreshToken = refresh;
        }

        private async Task<IDictionary<string, object>> GetJsonAsync(string relativePath, CancellationToken cancel)
        {
            var uri = new Uri(baseUri, relativePath);
            // The query holds secrets: error messages name the path only.
            string where = baseUri + relativePath.Split('?')[0];
            var request = (HttpWebRequest)WebRequest.Create(uri);
            request.Method = "GET";
            request.Accept = "application/json";
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel))
            {
                timeout.CancelAfter(requestTimeout);
                // HttpWebRequest's async calls ignore its Timeout property; aborting is how they are cancelled.
                using (timeout.Token.Register(request.Abort))
                {
                    try
                    {
                        using (var response = (HttpWebResponse)await request.GetResponseAsync().ConfigureAwait(false))
                        {
                            return ParseObject(await ReadBodyAsync(response).ConfigureAwait(false), where);
                        }
                    }
                    catch (WebException error)
                    {
                        cancel.ThrowIfCancellationRequested();
                        var response = error.Response as HttpWebResponse;
                        if (response == null)
                        {
                            throw new IdentityException("cannot reach " + where + ": " + error.Message, 0, error);
                        }
                        using (response)
                        {
                            string body = await ReadBodyAsync(response).ConfigureAwait(false);
                            throw new IdentityException(where + " answered " + (int)response.StatusCode + ": " + body, (int)response.StatusCode);
                        }
                    }
                }
            }
        }

        private static async Task<string> ReadBodyAsync(HttpWebResponse response)
        {
            using (var reader = new StreamReader(response.GetResponseStream(), Encoding.UTF8))
            {
                return await reader.ReadToEndAsync().ConfigureAwait(false);
            }
        }

        private static IDictionary<string, object> ParseObject(string body, string where)
        {
            try
            {
                var parsed = TelemetryJson.Parse(body) as IDictionary<string, object>;
                if (parsed != null) return parsed;
            }
            catch (FormatException)
            {
                // reported below
            }
            throw new IdentityException(where + " answered with something other than a JSON object", 200);
        }
    }
}
