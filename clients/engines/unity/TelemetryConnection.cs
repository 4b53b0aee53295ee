// One WebSocket of the telemetry client: sending, the receive loop, pings, closing. Pure C#: no UnityEngine.
using System;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace GameTelemetry
{
    /// <summary>
    /// One WebSocket of a <see cref="TelemetryClient"/> and its receive loop. Only the client's connection loop
    /// sends and only the receive loop reads, as ClientWebSocket allows one send and one receive at a time.
    /// </summary>
    internal sealed class TelemetryConnection : IDisposable
    {
        private const int MaxIncomingFrameBytes = 1024 * 1024;
        private static readonly UTF8Encoding Utf8 = new UTF8Encoding(false);
        private static readonly byte[] PingFrame = Utf8.GetBytes("{\"action\":\"ping\"}");
        private readonly ClientWebSocket socket;
        private readonly CancellationTokenSource cancel;
        private long pingSentAtTicks = -1; // -1: no ping outstanding; written by both loops, hence Interlocked
        private TimeSpan lastSentAt;

        public TelemetryConnection(int number, ClientWebSocket socket, TimeSpan openedAt, CancellationToken stopping,
            Action<TelemetryConnection, string> onFrame, Action onEnded)
        {
            Number = number;
            this.socket = socket;
            cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            OpenedAt = openedAt;
            lastSentAt = OpenedAt;
            Receiving = ReceiveLoopAsync(onFrame, onEnded);
        }

        public int Number { get; private set; }
        public TimeSpan OpenedAt { get; private set; }
        public Task Receiving { get; private set; }
        public string EndReason { get; private set; }
        /// <summary>True once the server has answered anything on this socket.</summary>
        public bool ReceivedAny { get; private set; }

        public async Task SendAsync(string text, TimeSpan now)
        {
            await SendBytesAsync(Utf8.GetBytes(text)).ConfigureAwait(false);
            lastSentAt = now;
        }

        public bool PingDue(TimeSpan now, TimeSpan idle)
        {
            return Interlocked.Read(ref pingSentAtTicks) < 0 && now - lastSentAt >= idle;
        }

        public async Task SendPingAsync(TimeSpan now)
        {
            Interlocked.Exchange(ref pingSentAtTicks, now.Ticks);
            await SendBytesAsync(PingFrame).ConfigureAwait(false);
            lastSentAt = now;
        }

        public void PongReceived()
        {
            Interlocked.Exchange(ref pingSentAtTicks, -1);
        }

        public TimeSpan PingUnansweredFor(TimeSpan now)
        {
            long sentAt = Interlocked.Read(ref pingSentAtTicks);
            return sentAt < 0 ? TimeSpan.Zero : now - TimeSpan.FromTicks(sentAt);
        }

        /// <summary>A polite close: sends the close frame, waits briefly for the server's.</summary>
        public async Task CloseAsync(string why)
        {
            try
            {
                using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, why, timeout.Token).ConfigureAwait(false);
                }
                await Task.WhenAny(Receiving, Task.Delay(TimeSpan.FromSeconds(1))).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Closing a broken socket can fail; Dispose aborts it anyway.
            }
        }

        public void Dispose()
        {
            cancel.Cancel();
            socket.Abort();
            socket.Dispose();
            cancel.Dispose();
        }

        private Task SendBytesAsync(byte[] bytes)
        {
            return socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cancel.Token);
        }

        private async Task ReceiveLoopAsync(Action<TelemetryConnection, string> onFrame, Action onEnded)
        {
            var buffer = new byte[16 * 1024];
            var message = new MemoryStream();
            try
            {
                while (true)
                {
                    var result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), cancel.Token).ConfigureAwait(false);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        EndReason = "the server closed it (" + (int?)result.CloseStatus + " " + result.CloseStatusDescription + ")";
                        return;
                    }
                    message.Write(buffer, 0, result.Count);
                    if (message.Length > MaxIncomingFrameBytes)
                    {
                        EndReason = "the server sent a frame over " + MaxIncomingFrameBytes + " bytes";
                        return;
                    }
                    if (!result.EndOfMessage) continue;
                    string text = Utf8.GetString(message.GetBuffer(), 0, (int)message.Length);
                    message.SetLength(0);
                    ReceivedAny = true;
                    onFrame(this, text);
                }
            }
            catch (Exception error)
            {
                EndReason = TelemetryClient.Describe(error);
            }
            finally
            {
                onEnded();
            }
        }
    }
}
