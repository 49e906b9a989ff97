// What the scripts here share: how they talk to the Python test that runs them, the HTTP
// transport given to oauth4webapi (its `customFetch` option), client authentication and the
// DPoP nonce retry. oauth4webapi itself is used as published (tests/clients/js/package.json).
//
// The protocol with tests/clients/test_oauth4webapi.py: the script's one argument is a JSON
// object (its configuration); it writes JSON lines to stdout, `{"event": …}`, and reads JSON
// lines from stdin when it waits for the person (the callback URL after they approved).
// The last line is `{"event": "result", …}` or `{"event": "error", …}` (then the exit status
// is 1).

import * as http from 'node:http'
import * as readline from 'node:readline'
import * as oauth from 'oauth4webapi'

export const config = JSON.parse(process.argv[2] ?? '{}')

export function emit(event, fields = {}) {
  process.stdout.write(JSON.stringify({ event, ...fields }) + '\n')
}

let input
let lines
/** The next JSON line the test writes to stdin. */
export async function receive() {
  input ||= readline.createInterface({ input: process.stdin, crlfDelay: Infinity })
  lines ||= input[Symbol.asyncIterator]()
  const { value, done } = await lines.next()
  if (done) throw new Error('stdin closed while waiting for the test')
  return JSON.parse(value)
}

// ---- the transport ------------------------------------------------------------------------

/** Every request the client sent and what came back, for the test to look at. */
export const exchanges = []

function bodyText(body) {
  if (body === undefined || body === null) return undefined
  if (typeof body === 'string') return body
  if (body instanceof URLSearchParams) return body.toString()
  if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return Buffer.from(body)
  throw new TypeError(`unsupported request body ${Object.prototype.toString.call(body)}`)
}

/**
 * A `fetch` for oauth4webapi's `customFetch` option. RFC 6761 §6.3 makes every `*.localhost`
 * name a loopback name, but the C library here resolves only `localhost` itself (from
 * /etc/hosts), and Node's built-in fetch sends its own Host header whatever the caller sets.
 * So this sends the request with node:http to 127.0.0.1 and keeps the URL's host in the Host
 * header: a space's host `http://<subdomain>.localhost:<port>` works like the main host.
 */
export function loopbackFetch(url, init = {}) {
  const target = new URL(url)
  const headers = { ...(init.headers ?? {}), host: target.host }
  const body = bodyText(init.body)
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body))
  const record = {
    method: init.method ?? 'GET',
    url: target.href,
    request_headers: init.headers ?? {},
    request_body: typeof body === 'string' ? body : undefined,
  }
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: target.port || 80,
        path: target.pathname + target.search,
        method: init.method ?? 'GET',
        headers,
        signal: init.signal ?? undefined,
      },
      (response) => {
        const chunks = []
        response.on('data', (chunk) => chunks.push(chunk))
        response.on('error', reject)
        response.on('end', () => {
          const responseHeaders = new Headers()
          for (let i = 0; i < response.rawHeaders.length; i += 2) {
            responseHeaders.append(response.rawHeaders[i], response.rawHeaders[i + 1])
          }
          const status = response.statusCode
          const payload = Buffer.concat(chunks)
          record.status = status
          record.response_headers = Object.fromEntries(responseHeaders.entries())
          record.response_body = payload.toString('utf8')
          exchanges.push(record)
          const empty = [101, 204, 205, 304].includes(status)
          resolve(new Response(empty ? null : payload, { status, statusText: response.statusMessage, headers: responseHeaders }))
        })
      },
    )
    request.on('error', reject)
    if (body !== undefined) request.write(body)
    request.end()
  })
}

/** Options for every oauth4webapi call: our transport, and plain http (the test server). */
export const transport = { [oauth.customFetch]: loopbackFetch, [oauth.allowInsecureRequests]: true }

// ---- discovery, the client, its authentication ----------------------------------------------

/** The authorization server's metadata from its `/.well-known/openid-configuration`. */
export async function discover(issuer) {
  const url = new URL(issuer)
  const response = await oauth.discoveryRequest(url, { ...transport, algorithm: 'oidc' })
  return oauth.processDiscoveryResponse(url, response)
}

const KEY_ALGORITHMS = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  RS256: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
  PS256: { name: 'RSA-PSS', hash: 'SHA-256' },
}

/** A private key given as a JWK (with `alg` and `kid`) as oauth4webapi takes it. */
export async function privateKey(jwk) {
  const algorithm = KEY_ALGORITHMS[jwk.alg]
  if (!algorithm) throw new Error(`no key algorithm for alg ${jwk.alg}`)
  const { kid, alg, use, key_ops, ...material } = jwk
  const key = await crypto.subtle.importKey('jwk', material, algorithm, false, ['sign'])
  return { key, kid }
}

/** oauth4webapi's ClientAuth for `config.auth`: {method, secret?, jwk?}. */
export async function clientAuthentication(auth) {
  switch (auth.method) {
    case 'client_secret_basic':
      return oauth.ClientSecretBasic(auth.secret)
    case 'client_secret_post':
      return oauth.ClientSecretPost(auth.secret)
    case 'private_key_jwt':
      return oauth.PrivateKeyJwt(await privateKey(auth.jwk))
    case 'none':
      return oauth.None()
    default:
      throw new Error(`unknown client authentication ${auth.method}`)
  }
}

export function clientOf(config) {
  const client = { client_id: config.client_id }
  if (config.auth.method !== 'none') client.token_endpoint_auth_method = config.auth.method
  return client
}

/** A DPoP handle with a fresh ES256 key (RFC 9449 §4), and its key's thumbprint (§6.1). */
export async function dpopHandle(client) {
  const keyPair = await oauth.generateKeyPair('ES256')
  const handle = oauth.DPoP(client, keyPair)
  return { handle, jkt: await handle.calculateThumbprint() }
}

/**
 * Send a request and process its response; when the server asks for a DPoP nonce
 * (RFC 9449 §8, §9: `use_dpop_nonce`), the handle has kept it: send once more.
 */
export async function retryingNonce(send, process = async (response) => response) {
  try {
    return await process(await send())
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err
    return process(await send())
  }
}

/** GET a protected resource with the token (DPoP-bound when `dpop` is given). */
export async function getResource(url, accessToken, dpop) {
  const options = dpop ? { ...transport, DPoP: dpop } : transport
  let response
  try {
    response = await retryingNonce(() =>
      oauth.protectedResourceRequest(accessToken, 'GET', new URL(url), new Headers({ accept: 'application/json' }), null, options),
    )
  } catch (err) {
    if (err instanceof oauth.WWWAuthenticateChallengeError) {
      return { status: err.status, challenges: err.cause, body: await err.response.text() }
    }
    throw err
  }
  const text = await response.text()
  let body
  try {
    body = JSON.parse(text)
  } catch {
    body = text
  }
  return { status: response.status, body }
}

/** The raw JSON body of the last response from `url` (before oauth4webapi normalised it). */
export function lastBody(url) {
  const found = exchanges.filter((e) => e.url === url).at(-1)
  return found ? JSON.parse(found.response_body) : undefined
}

/** Run `main`, then report its result, or the error as the last line (exit status 1). */
export async function run(main) {
  try {
    const result = await main()
    emit('result', { ...result, exchanges })
  } catch (err) {
    emit('error', {
      name: err?.name,
      code: err?.code,
      message: String(err?.message ?? err),
      error: err?.error,
      error_description: err?.error_description,
      status: err?.status,
      cause: err?.cause instanceof URLSearchParams ? Object.fromEntries(err.cause) : err?.cause,
      stack: err?.stack,
      exchanges,
    })
    process.exitCode = 1
  } finally {
    input?.close() // stdin no longer keeps the script running
  }
}
