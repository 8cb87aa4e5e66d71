import { InMemoryForwardLedger } from '../src/outbox/in-memory.forward-ledger';
import { describeForwardLedgerConformance } from '../src/testing';

describeForwardLedgerConformance('in-memory', async (units) => new InMemoryForwardLedger(units));
