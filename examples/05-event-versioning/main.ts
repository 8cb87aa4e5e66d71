import { runMain } from '../shared/example.main';
import { run } from './event-versioning.example';

runMain(run);
