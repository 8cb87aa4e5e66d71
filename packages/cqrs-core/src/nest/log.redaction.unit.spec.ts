import { echoedPath, pathOf, redactQuery, redactTarget, unloggedRequest } from './log.redaction';

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

  it('gives the path of an absolute-form target, as Express routes it, never its user or host', () => {
    expect(pathOf('http://alice:pw@api.example.com:8080/rpc?token=abc')).toBe('/rpc');
    expect(pathOf('HTTPS://api.example.com/api/trainers/t1/move')).toBe('/api/trainers/t1/move');
    expect(pathOf('http://api.example.com')).toBe('/');
    expect(pathOf('http://api.example.com?x=1')).toBe('/');
    expect(echoedPath('http://alice:pw@h/api/commands/x')).toBe('/api/commands/x');
  });
});

describe('redactTarget of a password by its usual short names', () => {
  it('replaces pass, passwd, pwd and passphrase, whatever their case', () => {
    expect(redactTarget('/login?user=ash&pass=a&PASSWD=b&pwd=c&passphrase=d&passage=e')).toBe(
      '/login?user=ash&pass=[Redacted]&PASSWD=[Redacted]&pwd=[Redacted]&passphrase=[Redacted]&passage=e',
    );
    expect(redactQuery({ pwd: 'c', page: '2' })).toEqual({ pwd: '[Redacted]', page: '2' });
  });
});

describe('redactTarget of an absolute-form target', () => {
  it('replaces the user and password, keeping the host, the path and the redacted query', () => {
    expect(redactTarget('http://alice:s3cret@api.example.com/rpc?password=p&x=1')).toBe(
      'http://[Redacted]@api.example.com/rpc?password=[Redacted]&x=1',
    );
    expect(redactTarget('http://a:b@c@h/x')).toBe('http://[Redacted]@h/x');
    expect(redactTarget('http://api.example.com/rpc')).toBe('http://api.example.com/rpc');
    // An @ after the authority is path or query, not a user.
    expect(redactTarget('/users/a@b?q=c@d')).toBe('/users/a@b?q=c@d');
  });
});

describe('redactQuery', () => {
  it('replaces credential values whatever the case of their name, at any depth, and copies', () => {
    const query = {
      Token: 'eyJ.a.b',
      id_token: 'id',
      PASSWORD: ['p1', 'p2'],
      filter: { api_key: 'k', page: '2' },
      list: [{ secret: 's' }, 'plain'],
      lastEventId: '1-0',
    };
    expect(redactQuery(query)).toEqual({
      Token: '[Redacted]',
      id_token: '[Redacted]',
      PASSWORD: '[Redacted]',
      filter: { api_key: '[Redacted]', page: '2' },
      list: [{ secret: '[Redacted]' }, 'plain'],
      lastEventId: '1-0',
    });
    // The request keeps its own query.
    expect(query.Token).toBe('eyJ.a.b');
  });

  it('catches bracketed names as query parsers read them, and more credential names', () => {
    expect(
      redactQuery({
        'token[]': 'a',
        'access_token[0]': 'b',
        'f[password]': 'c',
        refresh_token: 'd',
      }),
    ).toEqual({
      'token[]': '[Redacted]',
      'access_token[0]': '[Redacted]',
      'f[password]': '[Redacted]',
      refresh_token: '[Redacted]',
    });
    expect(redactTarget('/a?token[]=x&token%5B0%5D=y&jwt=z&page[size]=2')).toBe(
      '/a?token[]=[Redacted]&token%5B0%5D=[Redacted]&jwt=[Redacted]&page[size]=2',
    );
  });

  it('returns what is not an object as it came', () => {
    expect(redactQuery(undefined)).toBeUndefined();
    expect(redactQuery('token=abc')).toBe('token=abc');
  });
});

describe('unloggedRequest', () => {
  it('leaves out the operator paths however the scraper asks for them', () => {
    // A Prometheus job's `params:` (`/metrics?name[]=…`) or a trailing slash still serve the
    // metrics: each scrape was an info line, every 15 s, the README saying /metrics is not logged.
    for (const target of [
      '/metrics',
      '/metrics?name[]=up',
      '/metrics/',
      '/METRICS',
      '/health',
      '/health/ready?x=1',
      '/health/live/',
    ])
      expect({ target, unlogged: unloggedRequest(target) }).toEqual({ target, unlogged: true });
  });

  it('logs every other request, those whose path only begins like an operator path included', () => {
    for (const target of [
      '/api/positions',
      '/healthcare/records',
      '/metricsx',
      '/events?token=x',
      undefined,
    ])
      expect({ target, unlogged: unloggedRequest(target) }).toEqual({ target, unlogged: false });
  });
});
