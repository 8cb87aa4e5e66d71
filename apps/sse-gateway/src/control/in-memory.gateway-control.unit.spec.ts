import { describeGatewayControl } from './gateway-control.conformance';
import { InMemoryGatewayControl } from './in-memory.gateway-control';

describeGatewayControl('in-memory', async (count) => {
  const channel = new Set<InMemoryGatewayControl>();
  return {
    controls: Array.from({ length: count }, () => new InMemoryGatewayControl(channel)),
    malformed: [],
  };
});
