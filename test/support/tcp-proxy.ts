import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1, port 0, in front of a server: the network between a client and the pipeline, which a
 * test can cut (every open connection dies mid-stream, as on a dropped Wi-Fi) or take down (connections refused)
 * and bring back, pointing at the same or another server.
 */
export class TcpProxy {
  private readonly connections = new Set<Socket>();
  private upstream: { host: string; port: number } | undefined;
  private holding = false;

  private constructor(private readonly server: Server) {}

  static async start(upstreamUrl?: string): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server);
    if (upstreamUrl) proxy.pointAt(upstreamUrl);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** `http://127.0.0.1:PORT/`, for the client. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  /** Connections from now on go to this server. */
  pointAt(url: string): void {
    const target = new URL(url);
    this.upstream = { host: target.hostname, port: Number(target.port) };
  }

  /** Connections are refused from now on (and the open ones cut), as if the server were unreachable. */
  down(): void {
    this.upstream = undefined;
    this.holding = false;
    this.cut();
  }

  /** Connections are accepted and never answered from now on, as a server that hangs mid-handshake. */
  hold(): void {
    this.upstream = undefined;
    this.holding = true;
  }

  /** Destroys every open connection, both ways, wherever its traffic is. */
  cut(): void {
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
  }

  /** Open sockets: both ends of each relayed connection, the client's alone of a held one. */
  get sockets(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const upstream = this.upstream;
    if (!upstream) {
      if (!this.holding) client.destroy();
      else {
        this.connections.add(client);
        client.on('error', () => {});
        client.on('close', () => this.connections.delete(client));
      }
      return;
    }
    const server = connect(upstream.port, upstream.host);
    for (const [from, to] of [
      [client, server],
      [server, client],
    ] as const) {
      this.connections.add(from);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.connections.delete(from);
        to.destroy();
      });
      from.pipe(to);
    }
  }
}
