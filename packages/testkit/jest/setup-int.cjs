// Integration tests talk to real servers (Kafka group joins take seconds): a generous budget.
jest.setTimeout(60_000);
