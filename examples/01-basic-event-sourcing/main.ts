import { runMain } from '../shared/example.main';
import { run } from './basic-event-sourcing.example';

runMain(run);
