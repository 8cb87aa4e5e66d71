import { pathOf, redactTarget } from './log.redaction';

describe('redactTarget', () => {
  it('replaces credentials in the query string and keeps everything else', () => {
    expect(redactTarget('/events?token=eyJhbGciOi.x.y&lastEventId=1-0')).toBe(
      '/events?token=[Redacted]&lastEventId=1-0',
    );
    expect(redactTarget('/a?lastEventId=1-0&TOKEN=abc&access_token=def')).toBe(
      '/a?lastEventId=1-0&TOKEN=[Redacted]&access_token=[Redacted]',
    );
  });

  it('catches an encoded or repeated parameter name, and one without a value', () => {
    expect(redactTarget('/events?%74oken=abc&token=def&token')).toBe(
      '/events?%74oken=[Redacted]&token=[Redacted]&token=[Redacted]',
    );
  });

  it('leaves a target without a query string, or without credentials, as it came', () => {
    expect(redactTarget('/api/positions')).toBe('/api/positions');
    expect(redactTarget('/a?b=%E0%A4%A&c')).toBe('/a?b=%E0%A4%A&c');
    expect(redactTarget(undefined)).toBeUndefined();
  });
});

describe('pathOf', () => {
  it('drops the query string', () => {
    expect(pathOf('/events?token=abc')).toBe('/events');
    expect(pathOf('/events')).toBe('/events');
  });
});
