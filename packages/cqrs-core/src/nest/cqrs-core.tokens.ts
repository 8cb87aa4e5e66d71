export const CQRS_CORE_OPTIONS = Symbol('causeway:cqrs-core-options');
export const DEAD_LETTER_QUEUE = Symbol('causeway:dead-letter-queue');
