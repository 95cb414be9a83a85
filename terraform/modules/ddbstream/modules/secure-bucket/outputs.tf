output "id" {
  description = "The bucket's name (the id other S3 resources take)."
  value       = aws_s3_bucket.this.id
}

output "bucket" {
  description = "The bucket's name."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "The bucket's ARN."
  value       = aws_s3_bucket.this.arn
}
