/**
 * A server for the benchmark, run as its own process so the load generator does not share its core:
 *   intake     the real local intake (handlers, durable SQLite stream), without the stream's consumers
 *   pipeline   the whole local pipeline: intake, raw archive and Delta writer
 *   bare-ws    a `ws` server that only parses each frame and replies (the ceiling for WebSocket intake)
 *   bare-http  a Node HTTP server that only parses each body and replies (the ceiling for REST)
 * It prints its base URL on the first line of stdout.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import { startLocalPipeline } from '../../runtime/local/pipeline.ts';
import { testPipelineConfig } from '../support/local.ts';

const [mode, dataDir] = process.argv.slice(2);

if (mode === 'pipeline' || mode === 'intake') {
  const pipeline = await startLocalPipeline(testPipelineConfig(dataDir!, { intakeOnly: mode === 'intake' }));
  console.log(pipeline.url);
  process.on('SIGTERM', () => void pipeline.close().then(() => process.exit(0)));
} else if (mode === 'bare-ws' || mode === 'bare-http') {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      JSON.parse(Buffer.concat(chunks).toString('utf8'));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('"Successfully added event"');
    });
  });
  if (mode === 'bare-ws') {
    const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 128 * 1024 });
    wss.on('connection', (ws) => {
      ws.on('message', (data) => {
        const message = JSON.parse(data.toString());
        ws.send(JSON.stringify({ type: 'ack', id: message.id, accepted: message.events.length, rejected: [] }));
      });
    });
  }
  server.listen(0, '127.0.0.1', () => console.log(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`));
  process.on('SIGTERM', () => process.exit(0));
} else {
  console.error('usage: bench-server.ts intake|pipeline <data-dir> | bare-ws | bare-http');
  process.exit(2);
}
