import { ConfigurationError } from '@causeway/cqrs-core';
import { tracingSettings } from './tracing.settings';

describe('tracing settings (OpenTelemetry environment variables)', () => {
  it('is off without an OTLP endpoint, or when disabled', () => {
    expect(tracingSettings('svc', {})).toBeUndefined();
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    expect(tracingSettings('svc', { ...endpoint, OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(tracingSettings('svc', { ...endpoint, OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
  });

  it('sends to <endpoint>/v1/traces, or to the traces endpoint as given, as the service named', () => {
    expect(
      tracingSettings('trainer-service', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }),
    ).toEqual({ url: 'http://collector:4318/v1/traces', serviceName: 'trainer-service' });
    expect(
      tracingSettings('trainer-service', {
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://ignored:4318',
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/custom',
        OTEL_SERVICE_NAME: 'trainers',
      }),
    ).toEqual({ url: 'https://otel.example.com/custom', serviceName: 'trainers' });
    // The signal path goes before a query of the base endpoint.
    expect(
      tracingSettings('svc', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/otel?tenant=a' })
        ?.url,
    ).toBe('http://collector:4318/otel/v1/traces?tenant=a');
  });

  it('names a bad setting at start', () => {
    const issues = (env: NodeJS.ProcessEnv) => {
      try {
        tracingSettings('svc', env);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        return (error as ConfigurationError).issues;
      }
      throw new Error('no error');
    };
    expect(issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toEqual([
      { setting: 'OTEL_EXPORTER_OTLP_ENDPOINT', problem: expect.stringContaining('http(s) URL') },
    ]);
    expect(issues({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' })).toEqual([
      {
        setting: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
        problem:
          'expected an http(s) URL such as http://collector:4318, got one that does not parse',
      },
    ]);
    // Never the value: an endpoint may carry credentials.
    expect(issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://user:s3cretpw@collector:4317' })).toEqual([
      {
        setting: 'OTEL_EXPORTER_OTLP_ENDPOINT',
        problem: 'expected an http(s) URL, got one with the scheme "grpc:"',
      },
    ]);
    expect(
      JSON.stringify(issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://user:s3cretpw@[bad:4317' })),
    ).not.toContain('s3cretpw');
    expect(
      issues({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'zipkin' }),
    ).toEqual([{ setting: 'OTEL_TRACES_EXPORTER', problem: expect.stringContaining('"zipkin"') }]);
    const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(issues({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toEqual([
      { setting: 'OTEL_EXPORTER_OTLP_PROTOCOL', problem: expect.stringContaining('http/json') },
    ]);
    expect(issues({ ...on, OTEL_TRACES_SAMPLER: 'bogus' })).toEqual([
      { setting: 'OTEL_TRACES_SAMPLER', problem: expect.stringContaining('"bogus"') },
    ]);
    expect(
      issues({
        ...on,
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: 'abc',
      }),
    ).toEqual([{ setting: 'OTEL_TRACES_SAMPLER_ARG', problem: expect.stringContaining('"abc"') }]);
    expect(
      tracingSettings('svc', {
        ...on,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      })?.url,
    ).toBe('http://c:4318/v1/traces');
  });
});
