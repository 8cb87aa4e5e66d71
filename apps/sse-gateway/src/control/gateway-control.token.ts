/** The GatewayControl the gateway module listens to and the disconnect endpoint publishes on. */
export const GATEWAY_CONTROL = Symbol('causeway:gateway-control');
