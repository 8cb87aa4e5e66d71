/** The ProgressStatuses the progress streams read (GatewayModuleOptions.progress). */
export const PROGRESS_STATUSES = Symbol('causeway:progress-statuses');
