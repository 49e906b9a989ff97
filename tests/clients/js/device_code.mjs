// The device authorization grant (RFC 8628) as a device using oauth4webapi runs it: the device
// authorization request (§3.1), the user code shown to the person (printed for the test, which
// plays the person entering it at the verification URI), then polling the token endpoint
// (§3.4) at the interval the server asked for, five seconds slower after each `slow_down`
// (§3.5), optionally DPoP-bound (RFC 9449), and a request to a protected resource. Each
// answer that says "not yet" is printed as a `poll` event.
//
// config: {issuer, client_id, auth: {method, secret?, jwk?}, scope, resource_url, dpop?}

import * as oauth from 'oauth4webapi'
import {
  clientAuthentication,
  clientOf,
  config,
  discover,
  dpopHandle,
  emit,
  getResource,
  lastBody,
  retryingNonce,
  run,
  transport,
} from './support.mjs'

const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000))

await run(async () => {
  const as = await discover(config.issuer)
  const client = clientOf(config)
  const auth = await clientAuthentication(config.auth)
  const dpop = config.dpop ? await dpopHandle(client) : undefined
  const options = dpop ? { ...transport, DPoP: dpop.handle } : transport

  const device = await oauth.processDeviceAuthorizationResponse(
    as,
    client,
    await oauth.deviceAuthorizationRequest(as, client, auth, { scope: config.scope }, transport),
  )
  emit('device', {
    user_code: device.user_code,
    verification_uri: device.verification_uri,
    verification_uri_complete: device.verification_uri_complete,
    expires_in: device.expires_in,
    interval: device.interval,
  })

  let interval = device.interval ?? 5
  const answers = []
  let token
  while (!token) {
    await sleep(interval)
    try {
      token = await retryingNonce(
        () => oauth.deviceCodeGrantRequest(as, client, auth, device.device_code, options),
        (response) => oauth.processDeviceCodeResponse(as, client, response),
      )
    } catch (err) {
      if (!(err instanceof oauth.ResponseBodyError)) throw err
      answers.push(err.error)
      emit('poll', { error: err.error })
      if (err.error === 'authorization_pending') continue
      if (err.error === 'slow_down') {
        interval += 5
        continue
      }
      throw err
    }
  }
  return {
    device_response: lastBody(as.device_authorization_endpoint),
    polls: answers,
    token_response: lastBody(as.token_endpoint),
    token_type: token.token_type,
    dpop_jkt: dpop?.jkt,
    resource: await getResource(config.resource_url, token.access_token, dpop?.handle),
  }
})
