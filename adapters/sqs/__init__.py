"""SQS: the broker and consumer of the API's queues, their dead letters, the ops tools' admin, the publisher."""
