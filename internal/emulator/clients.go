package emulator

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ConfigFor returns an aws.Config for any endpoint that speaks the AWS
// protocols (the emulator, moto, LocalStack): static test credentials, the
// region, and BaseEndpoint set to endpoint.
func ConfigFor(endpoint, region string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider("emulator", "emulator", ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// AWSConfig is [ConfigFor] the server's URL and region. Start the server
// first.
func (s *Server) AWSConfig() aws.Config { return ConfigFor(s.URL(), s.cfg.region) }

// DynamoDB returns a DynamoDB client for the server.
func (s *Server) DynamoDB(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.NewFromConfig(s.AWSConfig(), optFns...)
}

// Streams returns a DynamoDB Streams client for the server.
func (s *Server) Streams(optFns ...func(*dynamodbstreams.Options)) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(s.AWSConfig(), optFns...)
}

// S3 returns a path-style S3 client for the server.
func (s *Server) S3(optFns ...func(*s3.Options)) *s3.Client {
	return s3.NewFromConfig(s.AWSConfig(), append([]func(*s3.Options){func(o *s3.Options) { o.UsePathStyle = true }}, optFns...)...)
}
