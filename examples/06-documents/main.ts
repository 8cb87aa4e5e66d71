import { runMain } from '../shared/example.main';
import { run } from './documents.example';

runMain(run);
