/** `GET /health` of a running pipeline. */
export async function health(url: string): Promise<any> {
  const response = await fetch(`${url}health`);
  if (response.status !== 200) throw new Error(`GET /health answered ${response.status}`);
  return response.json();
}

/** Polls `GET /health` until `done` holds; the last answer is in the error when it never does. */
export async function waitForHealth(url: string, done: (health: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const answer = await health(url);
    if (done(answer)) return answer;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last /health: ${JSON.stringify(answer)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
