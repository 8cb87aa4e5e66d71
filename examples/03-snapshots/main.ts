import { runMain } from '../shared/example.main';
import { run } from './snapshots.example';

runMain(run);
