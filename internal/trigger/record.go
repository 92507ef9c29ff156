package trigger

import (
	"encoding/base64"
	"strconv"
	"time"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Record is one record delivered to a function, with typed access to what
// it carries: Data for a data-stream record, Change for a table change.
// Go functions read these fields directly; HTTP and wasm functions get the
// JSON record Lambda would receive ([Batch.AppendEvent]).
//
// A function must not modify a Record or keep Data past its return.
type Record struct {
	// SequenceNumber identifies the record in its source; the runner
	// resumes after it and it is the itemIdentifier of a partial-batch
	// response.
	SequenceNumber string
	// Partition of the source the record was read from.
	Partition int
	// Key orders the record: records with the same key are delivered in
	// the order they were stored (the partition key, or a table item's key).
	Key string
	// Arrival is when the source accepted the record (Kinesis's
	// approximateArrivalTimestamp, DynamoDB's ApproximateCreationDateTime).
	Arrival time.Time
	// Offset counts the records stored in the partition before this one,
	// when the source counts them (data streams do); lag is measured with it.
	Offset uint64
	// Data is the payload of a data-stream record.
	Data []byte
	// Change is the change of a table item, for table sources.
	Change *Change
	// ReadAfter is the sequence number of the checkpoint the trigger's
	// current reading of the partition began after ("" when it began at
	// its starting position): every record up to it was done with, every
	// record after it may have been delivered before (at-least-once). A
	// function whose side effects outlive a crash can tell from it which
	// of them a delivery before this reading may have left unfinished
	// (the pricing function records again such a decision).
	ReadAfter string
}

// Change is a table item change, as DynamoDB Streams describes it.
type Change struct {
	// EventName is INSERT, MODIFY or REMOVE.
	EventName string
	// Keys is the item's key attributes.
	Keys item.Item
	// NewImage is the item after the change (nil for REMOVE, or when the
	// stream view type leaves it out).
	NewImage item.Item
	// OldImage is the item before the change (nil for INSERT, or when the
	// stream view type leaves it out).
	OldImage item.Item
	// StreamViewType is KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or
	// NEW_AND_OLD_IMAGES.
	StreamViewType string
	// SizeBytes is the size of the change record, as DynamoDB counts it.
	SizeBytes int
	// Projected names the attributes the images were decoded with, sorted,
	// when the function's [ImageProjector] asked for some (the images hold
	// those of them the item has, and nothing else); nil when the images
	// are whole. A function whose attributes changed since the trigger
	// read a record tells so by it, and returns [ErrReread].
	Projected []string
	// Expired is set on a REMOVE made by the table's Time to Live; the
	// record then names the service as its userIdentity, as DynamoDB's do.
	Expired bool
}

// EventMeta is what an encoder needs besides the record: the source's ARN
// and region.
type EventMeta struct {
	SourceARN string
	Region    string
}

// AppendKinesisRecord appends r as the JSON record Lambda gives a function
// for a Kinesis stream:
//
//	{"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey", "sequenceNumber",
//	  "data" (base64), "approximateArrivalTimestamp" (seconds)},
//	 "eventSource": "aws:kinesis", "eventVersion": "1.0",
//	 "eventID": "shardId-000000000003:SEQ", "eventName": "aws:kinesis:record",
//	 "invokeIdentityArn", "awsRegion", "eventSourceARN"}
func AppendKinesisRecord(dst []byte, r *Record, m *EventMeta) []byte {
	dst = append(dst, `{"kinesis":{"kinesisSchemaVersion":"1.0","partitionKey":`...)
	dst = jsonstr.AppendHTMLSafe(dst, r.Key)
	dst = append(dst, `,"sequenceNumber":"`...)
	dst = append(dst, r.SequenceNumber...)
	dst = append(dst, `","data":"`...)
	dst = base64.StdEncoding.AppendEncode(dst, r.Data)
	dst = append(dst, `","approximateArrivalTimestamp":`...)
	dst = appendSeconds(dst, r.Arrival)
	dst = append(dst, `},"eventSource":"aws:kinesis","eventVersion":"1.0","eventID":"shardId-`...)
	dst = appendPadded(dst, r.Partition, 12)
	dst = append(dst, ':')
	dst = append(dst, r.SequenceNumber...)
	dst = append(dst, `","eventName":"aws:kinesis:record","invokeIdentityArn":"arn:aws:iam::000000000000:role/pricestream","awsRegion":`...)
	dst = jsonstr.AppendHTMLSafe(dst, m.Region)
	dst = append(dst, `,"eventSourceARN":`...)
	dst = jsonstr.AppendHTMLSafe(dst, m.SourceARN)
	return append(dst, '}')
}

// AppendDynamoDBRecord appends r, which must carry a Change, as the JSON
// record Lambda gives a function for a DynamoDB stream:
//
//	{"eventID", "eventName": "INSERT|MODIFY|REMOVE", "eventVersion": "1.1",
//	 "eventSource": "aws:dynamodb", "awsRegion",
//	 "dynamodb": {"ApproximateCreationDateTime" (seconds), "Keys", "NewImage",
//	   "OldImage", "SequenceNumber", "SizeBytes", "StreamViewType"},
//	 "eventSourceARN",
//	 "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
//	   (only on a REMOVE made by the table's Time to Live)}
//
// Keys and images are in attribute-value JSON ({"S": "x"}, {"N": "1"}).
func AppendDynamoDBRecord(dst []byte, r *Record, m *EventMeta) []byte {
	c := r.Change
	if c == nil {
		c = &Change{}
	}
	dst = append(dst, `{"eventID":"`...)
	dst = appendPadded(dst, r.Partition, 4)
	dst = append(dst, ':')
	dst = append(dst, r.SequenceNumber...)
	dst = append(dst, `","eventName":`...)
	dst = jsonstr.AppendHTMLSafe(dst, c.EventName)
	dst = append(dst, `,"eventVersion":"1.1","eventSource":"aws:dynamodb","awsRegion":`...)
	dst = jsonstr.AppendHTMLSafe(dst, m.Region)
	dst = append(dst, `,"dynamodb":{"ApproximateCreationDateTime":`...)
	dst = appendSeconds(dst, r.Arrival)
	dst = append(dst, `,"Keys":`...)
	dst = c.Keys.AppendJSON(dst)
	if c.NewImage != nil {
		dst = append(dst, `,"NewImage":`...)
		dst = c.NewImage.AppendJSON(dst)
	}
	if c.OldImage != nil {
		dst = append(dst, `,"OldImage":`...)
		dst = c.OldImage.AppendJSON(dst)
	}
	dst = append(dst, `,"SequenceNumber":"`...)
	dst = append(dst, r.SequenceNumber...)
	dst = append(dst, `","SizeBytes":`...)
	dst = strconv.AppendInt(dst, int64(c.SizeBytes), 10)
	dst = append(dst, `,"StreamViewType":`...)
	dst = jsonstr.AppendHTMLSafe(dst, c.StreamViewType)
	dst = append(dst, `},"eventSourceARN":`...)
	dst = jsonstr.AppendHTMLSafe(dst, m.SourceARN)
	if c.Expired {
		dst = append(dst, `,"userIdentity":{"type":"Service","principalId":"dynamodb.amazonaws.com"}`...)
	}
	return append(dst, '}')
}

// appendSeconds writes t as seconds since the epoch with millisecond
// precision, as Lambda's events do (1545084650.987).
func appendSeconds(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	dst = strconv.AppendInt(dst, ms/1000, 10)
	dst = append(dst, '.')
	return appendPadded(dst, int(ms%1000), 3)
}

func appendPadded(dst []byte, v, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendInt(tmp[:0], int64(v), 10)
	for range width - len(d) {
		dst = append(dst, '0')
	}
	return append(dst, d...)
}
