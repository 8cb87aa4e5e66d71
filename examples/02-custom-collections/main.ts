import { runMain } from '../shared/example.main';
import { run } from './custom-collections.example';

runMain(run);
