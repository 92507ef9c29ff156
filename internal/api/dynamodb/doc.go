// Package dynamodb serves the DynamoDB JSON 1.0 API (POST / with
// X-Amz-Target: DynamoDB_20120810.<Operation>) and the DynamoDB Streams
// API (DynamoDBStreams_20120810.<Operation>) over pricestream's tables, so
// code written with an AWS SDK works by changing only the endpoint URL.
//
// Supported operations: CreateTable, DescribeTable, ListTables,
// DeleteTable, PutItem, GetItem, UpdateItem, DeleteItem, Query, Scan,
// BatchGetItem, BatchWriteItem, TransactWriteItems; ListStreams,
// DescribeStream, GetShardIterator, GetRecords. Expressions only: the
// legacy parameters (Expected, AttributeUpdates, KeyConditions ...) are
// refused with a ValidationException. Secondary indexes are not supported.
//
// A table's stream has one shard that never closes; sequence numbers are
// the table's engine sequences, as 21-digit decimals. Shard iterators are
// opaque tokens signed with an installation-wide key, valid for 15 minutes.
//
// Responses carry the X-Amz-Crc32 header the SDKs check. Errors carry
// DynamoDB's __type and message, and for TransactionCanceledException the
// CancellationReasons.
//
// A [Handler] is safe for concurrent use. It imports table (and its item
// and expr packages) only.
package dynamodb
