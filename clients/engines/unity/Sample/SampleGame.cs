// A console "game" that uses the telemetry core the way the original Unreal sample did: log in as a guest, send
// Login, some CollectedItem and Killed Enemy events, then Logout. It exits 0 only when every event was acked.
//
//   cd clients/engines/unity
//   mcs -out:/tmp/SampleGame.exe TelemetryClient.cs TelemetryConnection.cs TelemetryOptions.cs GuestSession.cs \
//       TelemetryJson.cs Sample/SampleGame.cs
//   mono /tmp/SampleGame.exe http://127.0.0.1:8787/ 20
using System;
using System.Globalization;
using System.Threading;
using GameTelemetry;

namespace GameTelemetry.Sample
{
    public static class SampleGame
    {
        private const string Usage =
            "usage: mono SampleGame.exe <base-url> [events] [options]\n" +
            "\n" +
            "  base-url           the backend, e.g. http://127.0.0.1:8787/ (start it with `npm start`)\n" +
            "  events             gameplay events between Login and Logout (default 20)\n" +
            "  --duration-ms N    spread the gameplay events over N ms (default 0: all at once)\n" +
            "  --batch-size N     events per batch (default 100)\n" +
            "  --flush-ms N       send a partial batch after N ms (default 1000)\n" +
            "  --ping-after-ms N  ping the server after N ms without sending (default 240000)\n" +
            "  --ws-url URL       the WebSocket intake when it is not the base URL (AWS: wss://…/<stage>)\n" +
            "  --timeout-ms N     how long to wait for the last acks (default 30000)\n";

        public static int Main(string[] args)
        {
            Settings settings;
            try
            {
                settings = Settings.Parse(args);
            }
            catch (ArgumentException error)
            {
                Console.Error.WriteLine(error.Message);
                Console.Error.WriteLine(Usage);
                return 2;
            }
            if (settings == null)
            {
                Console.WriteLine(Usage);
                return 0;
            }
            return Play(settings);
        }

        private static int Play(Settings settings)
        {
            var options = new TelemetryOptions
            {
                BaseUrl = settings.BaseUrl,
                WebSocketUrl = settings.WebSocketUrl,
                BatchSize = settings.BatchSize,
                FlushInterval = TimeSpan.FromMilliseconds(settings.FlushMs),
                PingAfterIdle = TimeSpan.FromMilliseconds(settings.PingAfterMs),
                Log = message => Console.Error.WriteLine(message),
            };
            TelemetryClient client;
            try
            {
                client = new TelemetryClient(options);
            }
            catch (ArgumentException error)
            {
                Console.Error.WriteLine(error.Message);
                return 2;
            }
            client.Start();

            // The original sample's first event, its text unchanged (but with a fresh event_id, see the README).
            client.Track("Login", "The only thing we have to fear is fear itself.");
            var pause = settings.Events == 0 ? TimeSpan.Zero : TimeSpan.FromMilliseconds((double)settings.DurationMs / settings.Events);
            for (int i = 0; i < settings.Events; i++)
            {
                if (i % 2 == 0) client.Track("CollectedItem", CollectedItemData(i));
                else client.Track("Killed Enemy", KilledEnemyData(i));
                if (pause > TimeSpan.Zero) Thread.Sleep(pause);
            }
            client.Track("Logout", "Session over.");

            bool delivered = client.Close(TimeSpan.FromMilliseconds(settings.TimeoutMs));
            TelemetryStats stats = client.GetStats();
            Console.WriteLine("player_id: " + client.PlayerId);
            Console.WriteLine("tracked: " + stats.Tracked);
            Console.WriteLine("acked: " + stats.Acked);
            Console.WriteLine("reconnects: " + stats.Reconnects);
            Console.WriteLine("resent_batches: " + stats.ResentBatches);
            Console.WriteLine("retryable_errors: " + stats.RetryableErrors);
            Console.WriteLine("summary: " + stats);
            bool everyEventAcked = delivered && stats.Acked == stats.Tracked;
            if (!everyEventAcked)
            {
                Console.Error.WriteLine("Not every event was acked. Is the backend running at " + settings.BaseUrl + "? (`npm start`)");
            }
            return everyEventAcked ? 0 : 1;
        }

        /// <summary>
        /// event_data is a string; games often put JSON text in it. The quotes, backslashes, control characters and
        /// non-ASCII text here also prove the client's JSON escaping end to end.
        /// </summary>
        public static string CollectedItemData(int i)
        {
            return "{\"item\":\"Potion of \\\"Haste\\\"\",\"path\":\"C:\\\\loot\\\\chest\",\"note\":\"tab\\there, line\\nbreak, é 宝 🎮\",\"n\":" +
                i.ToString(CultureInfo.InvariantCulture) + "}";
        }

        public static string KilledEnemyData(int i)
        {
            return "Goblin #" + i.ToString(CultureInfo.InvariantCulture) + " says \"ouch\"\tand drops \\ a 🪙";
        }

        private sealed class Settings
        {
            public string BaseUrl;
            public string WebSocketUrl;
            public int Events = 20;
            public int DurationMs;
            public int BatchSize = 100;
            public int FlushMs = 1000;
            public int PingAfterMs = 240000;
            public int TimeoutMs = 30000;

            /// <summary>The settings, or null for --help. Throws ArgumentException for bad arguments.</summary>
            public static Settings Parse(string[] args)
            {
                var settings = new Settings();
                var positional = new System.Collections.Generic.List<string>();
                for (int i = 0; i < args.Length; i++)
                {
                    string arg = args[i];
                    if (arg == "--help" || arg == "-h") return null;
                    if (!arg.StartsWith("--"))
                    {
                        positional.Add(arg);
                        continue;
                    }
                    if (i + 1 >= args.Length) throw new ArgumentException(arg + " needs a value");
                    string value = args[++i];
                    switch (arg)
                    {
                        case "--duration-ms": settings.DurationMs = Number(arg, value); break;
                        case "--batch-size": settings.BatchSize = Number(arg, value); break;
                        case "--flush-ms": settings.FlushMs = Number(arg, value); break;
                        case "--ping-after-ms": settings.PingAfterMs = Number(arg, value); break;
                        case "--timeout-ms": settings.TimeoutMs = Number(arg, value); break;
                        case "--ws-url": settings.WebSocketUrl = value; break;
                        default: throw new ArgumentException("unknown option " + arg);
                    }
                }
                if (positional.Count < 1 || positional.Count > 2) throw new ArgumentException("give the base URL, and optionally the event count");
                settings.BaseUrl = positional[0];
                if (positional.Count == 2) settings.Events = Number("events", positional[1]);
                return settings;
            }

            private static int Number(string name, string value)
            {
                int number;
                if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out number))
                {
                    throw new ArgumentException(name + " must be a whole number, not '" + value + "'");
                }
                return number;
            }
        }
    }
}
