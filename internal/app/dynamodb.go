package app

import (
	"context"

	"github.com/pricestream/pricestream/internal/api/dynamodb"
)

// mountDynamoDB serves the DynamoDB and DynamoDB Streams APIs over the
// tables.
func (a *App) mountDynamoDB(ctx context.Context, cfg Config) error {
	key, err := a.engine.Secret(ctx, "dynamodb-iterators")
	if err != nil {
		return err
	}
	h, err := dynamodb.New(cfg.DynamoDB, dynamodb.Deps{Tables: a.tables, IteratorKey: key, Admit: a.server.AdmitTableWrite, Logger: a.logger, Registerer: a.registry})
	if err != nil {
		return err
	}
	a.server.HandleTarget(dynamodb.Target, h)
	a.server.HandleTarget(dynamodb.StreamsTarget, h)
	return nil
}
