// The Unity wrapper around TelemetryClient: inspector settings, lifecycle, and the guest kept in PlayerPrefs.
// It needs UnityEngine, so only Unity compiles it; the core (TelemetryClient.cs and its siblings) does not.
using System;
using UnityEngine;

namespace GameTelemetry
{
    /// <summary>
    /// Add to one GameObject in the first scene. It survives scene loads, logs in as a guest (the same one on every
    /// launch, through PlayerPrefs), and sends what <see cref="Track"/> is given. Call it from anywhere:
    /// <c>TelemetryComponent.Instance.Track("CollectedItem", "{\"item\":\"sword\"}");</c>
    /// </summary>
    [DisallowMultipleComponent]
    public sealed class TelemetryComponent : MonoBehaviour
    {
        private const string UserIdKey = "GameTelemetry.UserId";
        private const string GuestSecretKey = "GameTelemetry.GuestSecret";

        [Tooltip("The identity service; locally also the intake. `npm start` listens on http://127.0.0.1:8787/")]
        [SerializeField] private string baseUrl = "http://127.0.0.1:8787/";

        [Tooltip("The WebSocket intake when it is not the base URL, e.g. wss://…/<stage> on AWS. Empty: derived from the base URL.")]
        [SerializeField] private string webSocketUrl = "";

        [Tooltip("A batch is sent once it holds this many events (1–500)…")]
        [Range(1, TelemetryOptions.MaxEventsPerBatch)]
        [SerializeField] private int batchSize = 100;

        [Tooltip("…or once its oldest event has waited this many seconds.")]
        [Min(0.05f)]
        [SerializeField] private float flushIntervalSeconds = 1f;

        [Tooltip("How long quitting may wait for the last acks.")]
        [Min(0f)]
        [SerializeField] private float closeTimeoutSeconds = 3f;

        [Tooltip("Keep the same guest (player id) across launches.")]
        [SerializeField] private bool rememberGuest = true;

        [Tooltip("Write the client's messages to the Unity console: a few lines per session (login, connects, retries), and refused events, which point at a bug.")]
        [SerializeField] private bool logToConsole = true;

        private TelemetryClient client;
        private string savedUserId;

        /// <summary>The component in the scene, once it has awoken.</summary>
        public static TelemetryComponent Instance { get; private set; }

        /// <summary>The player id; null until the first login.</summary>
        public string PlayerId
        {
            get { return client == null ? null : client.PlayerId; }
        }

        public TelemetryStats Stats
        {
            get { return client == null ? null : client.GetStats(); }
        }

        /// <summary>Queues an event (never blocks on the network) and returns its event_id.</summary>
        public string Track(string eventType, string eventData = null)
        {
            if (client == null)
            {
                Debug.LogWarning("[telemetry] Track called before the TelemetryComponent awoke or after it closed; event dropped");
                return null;
            }
            return client.Track(eventType, eventData);
        }

        private void Awake()
        {
            if (Instance != null && Instance != this)
            {
                Destroy(gameObject); // one client per game: a second copy (a reloaded first scene) goes away
                return;
            }
            Instance = this;
            DontDestroyOnLoad(gameObject);

            savedUserId = rememberGuest ? PlayerPrefs.GetString(UserIdKey, "") : "";
            var options = new TelemetryOptions
            {
                BaseUrl = baseUrl,
                WebSocketUrl = webSocketUrl,
                UserId = savedUserId,
                GuestSecret = rememberGuest ? PlayerPrefs.GetString(GuestSecretKey, "") : "",
                BatchSize = batchSize,
                FlushInterval = TimeSpan.FromSeconds(flushIntervalSeconds),
                // Called on background threads; Debug.Log is thread-safe.
                Log = logToConsole ? (Action<string>)(message => Debug.Log(message)) : null,
            };
            client = new TelemetryClient(options);
            client.Start();
        }

        private void Update()
        {
            // PlayerPrefs only works on the main thread, so the login (on a background thread) is noticed here.
            string playerId = client == null ? null : client.PlayerId;
            if (rememberGuest && playerId != null && playerId != savedUserId)
            {
                PlayerPrefs.SetString(UserIdKey, playerId);
                PlayerPrefs.SetString(GuestSecretKey, client.GuestSecret);
                PlayerPrefs.Save();
                savedUserId = playerId;
            }
        }

        private void OnApplicationPause(bool paused)
        {
            // Mobile platforms may kill a paused app without OnApplicationQuit: send what is queued while we can.
            if (paused && client != null) client.Flush(TimeSpan.FromSeconds(Math.Min(1f, closeTimeoutSeconds)));
        }

        private void OnApplicationQuit()
        {
            CloseClient();
        }

        private void OnDestroy()
        {
            if (Instance == this)
            {
                CloseClient();
                Instance = null;
            }
        }

        private void CloseClient()
        {
            if (client == null) return;
            client.Close(TimeSpan.FromSeconds(closeTimeoutSeconds));
            client = null;
        }
    }
}
