"""Order events to a message broker, and the consumers that act on them.

- `outbox`: the pending-event entries the order transaction writes beside each event;
- `topology`: the exchange, queues, dead-lettering and routing keys, declared by both sides;
- `transport`: RabbitMQ (`pika`, publisher confirms) and an in-memory broker with the same interface;
- `relay`: outbox -> broker, clearing an entry only once the broker confirmed its message;
- `notifications`: order confirmations and shipping notices into a local mailbox folder.

`python -m storefront.events relay|consume|both` runs them (see `__main__`).
"""
