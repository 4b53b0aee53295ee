import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

const DEMO_DIR = fileURLToPath(new URL('../../../clients/browser-demo/', import.meta.url));

/**
 * Serves the browser demo at `/demo/`: the page, and its script bundled on first request from the client library's
 * TypeScript (esbuild, the bundler tsx already brings). A route mount of the local gateway; nothing on AWS.
 */
export function createDemoPage(): (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean> {
  let bundle: Promise<string> | undefined;
  return async (req, res, url) => {
    if (req.method !== 'GET' || !(url.pathname === '/demo' || url.pathname.startsWith('/demo/'))) return false;
    try {
      if (url.pathname === '/demo') {
        res.writeHead(308, { location: '/demo/' }).end();
      } else if (url.pathname === '/demo/') {
        reply(res, 'text/html; charset=utf-8', await readFile(`${DEMO_DIR}index.html`, 'utf8'));
      } else if (url.pathname === '/demo/demo.js') {
        bundle ??= bundleDemo().catch((error: unknown) => {
          bundle = undefined; // try again on the next request
          throw error;
        });
        reply(res, 'text/javascript; charset=utf-8', await bundle);
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      }
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`the demo page failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    return true;
  };
}

function reply(res: ServerResponse, type: string, body: string): void {
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(body);
}

async function bundleDemo(): Promise<string> {
  const { build } = await import('esbuild');
  const result = await build({
    entryPoints: [`${DEMO_DIR}demo.ts`],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2020',
    write: false,
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}
