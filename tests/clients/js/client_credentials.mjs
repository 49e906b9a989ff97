// The client credentials grant (RFC 6749 §4.4) as an app using oauth4webapi asks for it,
// optionally DPoP-bound (RFC 9449 §5), then the app introspects its own token (RFC 7662) and,
// when `resource_url` is given, calls that protected resource with it.
//
// config: {issuer, client_id, auth: {method, secret?, jwk?}, scope, resource_url?, dpop?}

import * as oauth from 'oauth4webapi'
import {
  clientAuthentication,
  clientOf,
  config,
  discover,
  dpopHandle,
  getResource,
  lastBody,
  retryingNonce,
  run,
  transport,
} from './support.mjs'

await run(async () => {
  const as = await discover(config.issuer)
  const client = clientOf(config)
  const auth = await clientAuthentication(config.auth)
  const dpop = config.dpop ? await dpopHandle(client) : undefined
  const options = dpop ? { ...transport, DPoP: dpop.handle } : transport

  const token = await retryingNonce(
    () => oauth.clientCredentialsGrantRequest(as, client, auth, { scope: config.scope }, options),
    (response) => oauth.processClientCredentialsResponse(as, client, response),
  )
  const introspection = await oauth.processIntrospectionResponse(
    as,
    client,
    await oauth.introspectionRequest(as, client, auth, token.access_token, transport),
  )
  return {
    token_response: lastBody(as.token_endpoint),
    token_type: token.token_type,
    dpop_jkt: dpop?.jkt,
    introspection,
    resource: config.resource_url ? await getResource(config.resource_url, token.access_token, dpop?.handle) : undefined,
  }
})
