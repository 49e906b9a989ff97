// The authorization code flow with PKCE (RFC 6749 §4.1, RFC 7636), as an app using
// oauth4webapi runs it: discovery, optionally a pushed authorization request (RFC 9126) with a
// signed request object inside (RFC 9101), the person's part (played by the test: this script
// prints the authorization URL and reads the callback URL), the code exchange, optionally
// DPoP-bound (RFC 9449), a request to a protected resource, and optionally a refresh.
//
// config: {issuer, client_id | register: {client metadata}, auth: {method, secret?, jwk?},
//          redirect_uri, scope, resource_url,
//          par?, jar?, dpop?, refresh?, validate_jwt_access_token?,
//          exchange?: {parameter: value, resource_url}}
//
// With `register`, the app first registers itself (RFC 7591) and uses the client id it gets.
// With `exchange`, the app then trades its access token for another at the token endpoint
// (RFC 8693 token exchange, oauth4webapi's generic token endpoint request) with those
// parameters, and calls `exchange.resource_url` with the new token.

import * as oauth from 'oauth4webapi'
import {
  clientAuthentication,
  clientOf,
  config,
  discover,
  dpopHandle,
  emit,
  exchanges,
  getResource,
  lastBody,
  privateKey,
  receive,
  retryingNonce,
  run,
  transport,
} from './support.mjs'

await run(async () => {
  const as = await discover(config.issuer)
  let registered
  if (config.register) {
    // Dynamic client registration (RFC 7591 §3.1) with the given metadata.
    registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, config.register, transport),
    )
    config.client_id = registered.client_id
  }
  const client = clientOf(config)
  const auth = await clientAuthentication(config.auth)
  const dpop = config.dpop ? await dpopHandle(client) : undefined
  const options = dpop ? { ...transport, DPoP: dpop.handle } : transport

  const codeVerifier = oauth.generateRandomCodeVerifier()
  const state = oauth.generateRandomState()
  const openid = config.scope.split(' ').includes('openid')
  const nonce = openid ? oauth.generateRandomNonce() : undefined
  const parameters = new URLSearchParams({
    client_id: client.client_id,
    redirect_uri: config.redirect_uri,
    response_type: 'code',
    scope: config.scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  })
  if (nonce) parameters.set('nonce', nonce)

  const authorizationUrl = new URL(as.authorization_endpoint)
  let pushed
  if (config.par) {
    let pushedParameters = parameters
    if (config.jar) {
      const request = await oauth.issueRequestObject(as, client, parameters, await privateKey(config.auth.jwk))
      pushedParameters = new URLSearchParams({ client_id: client.client_id, request })
    }
    pushed = await retryingNonce(
      () => oauth.pushedAuthorizationRequest(as, client, auth, pushedParameters, options),
      (response) => oauth.processPushedAuthorizationResponse(as, client, response),
    )
    authorizationUrl.searchParams.set('client_id', client.client_id)
    authorizationUrl.searchParams.set('request_uri', pushed.request_uri)
  } else {
    for (const [name, value] of parameters) authorizationUrl.searchParams.set(name, value)
  }

  emit('authorize', { url: authorizationUrl.href })
  const { callback } = await receive()
  const callbackParameters = oauth.validateAuthResponse(as, client, new URL(callback), state)

  const token = await retryingNonce(
    () => oauth.authorizationCodeGrantRequest(as, client, auth, callbackParameters, config.redirect_uri, codeVerifier, options),
    (response) => oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: openid }),
  )
  const result = {
    registered,
    pushed,
    token_response: lastBody(as.token_endpoint),
    token_type: token.token_type,
    id_token_claims: oauth.getValidatedIdTokenClaims(token),
    dpop_jkt: dpop?.jkt,
    resource: await getResource(config.resource_url, token.access_token, dpop?.handle),
  }
  if (config.validate_jwt_access_token) {
    // The resource server's side (RFC 9068 §4, RFC 9449 §7): oauth4webapi checks the JWT access
    // token of the request the client just sent, its signature by the host's keys, and the
    // DPoP proof against the token's `cnf.jkt`.
    const sent = exchanges.filter((e) => e.url === config.resource_url).at(-1)
    const request = new Request(config.resource_url, { headers: sent.request_headers })
    const audience = new URL(config.issuer).origin
    result.jwt_access_token_claims = await oauth.validateJwtAccessToken(as, request, audience, transport)
  }
  if (config.refresh) {
    const refreshed = await retryingNonce(
      () => oauth.refreshTokenGrantRequest(as, client, auth, token.refresh_token, options),
      (response) => oauth.processRefreshTokenResponse(as, client, response),
    )
    result.refreshed_response = lastBody(as.token_endpoint)
    result.refreshed_token_type = refreshed.token_type
    result.resource_after_refresh = await getResource(config.resource_url, refreshed.access_token, dpop?.handle)
  }
  if (config.exchange) {
    const { resource_url: exchangeResource, ...exchangeParameters } = config.exchange
    const exchanged = await retryingNonce(
      () =>
        oauth.genericTokenEndpointRequest(
          as,
          client,
          auth,
          'urn:ietf:params:oauth:grant-type:token-exchange',
          {
            subject_token: token.access_token,
            subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
            ...exchangeParameters,
          },
          options,
        ),
      (response) => oauth.processGenericTokenEndpointResponse(as, client, response),
    )
    result.exchanged_response = lastBody(as.token_endpoint)
    result.resource_after_exchange = await getResource(exchangeResource, exchanged.access_token, dpop?.handle)
  }
  return result
})
