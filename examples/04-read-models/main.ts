import { runMain } from '../shared/example.main';
import { run } from './read-models.example';

runMain(run);
