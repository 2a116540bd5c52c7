/**
 * The client's transport against real local sockets: timeouts, broken connections and connection
 * reuse, each case on a tiny node:http (or plain TCP) server that behaves or misbehaves.
 */
import { createServer, type RequestListener, type Server } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionError, TimeoutError } from '#lib/errors.ts';
import { UphealClient } from '#lib/upheal/client.ts';

/** Short enough to keep the file fast, long enough for a local answer to arrive. */
const SHORT_TIMEOUT_MS = 200;
const USER_ID = 'd290f1ee-6c54-4b01-90e6-d701748f0852';

const servers: Server[] = [];
const clients: UphealClient[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** Starts a local server with `listener` and returns its base URL. */
async function serve(listener: RequestListener): Promise<string> {
  const server = createServer(listener);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A client on its own default connection pools (keep-alive), closed after the test. */
function clientOf(baseUrl: string): UphealClient {
  const client = new UphealClient({ baseUrl, apiKey: 'k', timeoutMs: SHORT_TIMEOUT_MS });
  clients.push(client);
  return client;
}

describe('UphealClient transport failures', () => {
  it('succeeds over a real socket with its default connection pools', async () => {
    const url = await serve((request, response) => {
      const authorized = request.headers.authorization === 'Bearer k';
      response.writeHead(authorized ? 200 : 401, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ isUserExists: false }));
    });
    await expect(clientOf(url).checkUser('a@b.co')).resolves.toEqual({ exists: false });
  });

  it('throws TimeoutError when no headers arrive in time', async () => {
    const url = await serve(() => {
      // Never answers: the request hangs until the client gives up.
    });
    const error = await clientOf(url)
      .deleteUser(USER_ID)
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(TimeoutError);
    expect((error as TimeoutError).message).toBe('upheal deleteUser: timed out (HEADERS_TIMEOUT)');
  });

  it('reuses one kept-alive connection for consecutive calls', async () => {
    let connections = 0;
    const url = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ isUserExists: false }));
    });
    servers.at(-1)?.on('connection', () => {
      connections += 1;
    });
    const client = clientOf(url);
    for (let call = 0; call < 3; call += 1) {
      await expect(client.checkUser('a@b.co')).resolves.toEqual({ exists: false });
    }
    expect(connections).toBe(1);
  });

  it('throws TimeoutError when a connection is not established in time', async () => {
    // TCP accepts, but the TLS handshake never gets an answer: connecting includes TLS.
    const sockets: Socket[] = [];
    const silent = createTcpServer((socket) => {
      sockets.push(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const error = await clientOf(`https://127.0.0.1:${port}`)
        .checkUser('a@b.co')
        .catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(TimeoutError);
      expect((error as TimeoutError).message).toBe('upheal check: timed out (CONNECT_TIMEOUT)');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('throws ConnectionError when the connection closes in the middle of the body', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      response.write('{"isUserExists":', () => response.socket?.destroy());
    });
    await expect(clientOf(url).checkUser('a@b.co')).rejects.toBeInstanceOf(ConnectionError);
  });

  it('throws TimeoutError when the body stalls after the headers', async () => {
    const url = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.write('{"isUserExists":');
    });
    await expect(clientOf(url).checkUser('a@b.co')).rejects.toBeInstanceOf(TimeoutError);
  });

  it('throws ConnectionError when the server resets the connection', async () => {
    const url = await serve((request) => {
      request.socket.destroy();
    });
    const error = await clientOf(url)
      .checkUser('a@b.co')
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).retryable).toBe(true);
  });

  it('throws ConnectionError when nothing listens on the port', async () => {
    const url = await serve(() => {});
    const server = servers.pop()!;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expect(clientOf(url).checkUser('a@b.co')).rejects.toBeInstanceOf(ConnectionError);
  });
});
