"""SQS: the legacy queues' broker and consumer, their dead letters, the ops tools' admin, the publisher."""
