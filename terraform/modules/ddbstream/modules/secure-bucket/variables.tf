variable "bucket" {
  description = "The bucket's name."
  type        = string
}

variable "name_checks" {
  description = "Checks of the name, each a condition that must hold and the error shown when it does not (a precondition of the bucket, so a bad name stops the plan)."
  type = list(object({
    condition     = bool
    error_message = string
  }))
  default = []
}

variable "force_destroy" {
  description = "Whether a destroy deletes the bucket's objects (and their versions) too."
  type        = bool
}

variable "kms_key_arn" {
  description = "The KMS key objects are encrypted with by default (SSE-KMS, with an S3 Bucket Key). The bucket depends on it, so a destroy deletes the key only after the bucket."
  type        = string
}

variable "lifecycle_rule_id" {
  description = "The id of the lifecycle rule for the bucket's data."
  type        = string
}

variable "lifecycle_prefix" {
  description = "The key prefix the data rule applies to."
  type        = string
}

variable "transition_ia_days" {
  description = "Days after which objects under lifecycle_prefix move to STANDARD_IA; 0 for never."
  type        = number
  default     = 0
}

variable "transition_glacier_days" {
  description = "Days after which objects under lifecycle_prefix move to GLACIER; 0 for never."
  type        = number
  default     = 0
}

variable "expiration_days" {
  description = "Days after which objects under lifecycle_prefix expire; 0 for never."
  type        = number
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a noncurrent version (an overwritten or deleted object) is deleted."
  type        = number
}

variable "abort_incomplete_upload_days" {
  description = "Days after which an incomplete multipart upload (anywhere in the bucket) is aborted."
  type        = number
}

variable "tags" {
  description = "Tags of the bucket."
  type        = map(string)
}
