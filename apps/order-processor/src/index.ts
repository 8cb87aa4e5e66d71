// The order feature of order-processor, for the app itself and the embedded mode.
export { orderSettings } from './config/order-processor.config';
export * from './order-processor.module';
export * from './openapi/order-processor.openapi';
export * from './orders/order-delivery.limits';
export * from './orders/kafka-order.source';
export * from './orders/order.source';
export { orderEventsTopic } from './orders/order.topic';
export * from './retention/task-expiries';
