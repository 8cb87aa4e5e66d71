import { MessageFactory } from '../messages/message.factory';
import { runInMessageContext } from '../messages/message-context';
import { runInTraceContext } from '../messages/trace-context';
import { messageLogFields } from './log.fields';

describe('messageLogFields', () => {
  const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const factory = new MessageFactory();

  it('names the message being handled and its trace, also after an await', async () => {
    const command = factory.command('Ship', { id: 1 }, { aggregateId: 'o-1', causedBy: null });
    const traced = { ...command, metadata: { ...command.metadata, traceparent } };
    const fields = await runInMessageContext(traced, async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      return messageLogFields();
    });
    expect(fields).toEqual({
      messageId: command.messageId,
      messageType: 'Ship',
      correlationId: command.messageId,
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    const caused = runInMessageContext(command, () =>
      factory.event('Shipped', {}, { aggregateId: 'o-1' }),
    );
    expect(runInMessageContext(caused, messageLogFields)).toEqual({
      messageId: caused.messageId,
      messageType: 'Shipped',
      correlationId: command.messageId,
    });
  });

  it("names a request's trace outside any message, and nothing outside both", () => {
    expect(runInTraceContext({ traceparent }, messageLogFields)).toEqual({
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
    });
    expect(runInTraceContext({ traceparent: 'not-one' }, messageLogFields)).toEqual({});
    expect(messageLogFields()).toEqual({});
  });
});
