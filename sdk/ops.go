package sdk

import (
	"context"

	"github.com/cctoolkit/cloudconvert/generated/cloudconvert/client"
)

// createdTask is what every generated create_task response has in common.
type createdTask interface {
	GetJSON201() *client.TaskResponse
	GetBody() []byte
	StatusCode() int
	ContentType() string
}

type createTaskFn func(*client.ClientWithResponses, context.Context, client.CreateTaskRequest) (createdTask, error)

func adapt[R createdTask](f func(*client.ClientWithResponses, context.Context, client.CreateTaskRequest, ...client.RequestEditorFn) (R, error)) createTaskFn {
	return func(c *client.ClientWithResponses, ctx context.Context, body client.CreateTaskRequest) (createdTask, error) {
		r, err := f(c, ctx, body)
		if err != nil {
			return nil, err
		}
		return r, nil
	}
}

// createTaskOps maps an operation (the path after /v2/) to the generated
// method that creates it. TestCreateTaskOpsMatchCatalog keeps it in step
// with the spec.
var createTaskOps = map[string]createTaskFn{
	"archive":                     adapt((*client.ClientWithResponses).CreateTaskArchiveWithResponse),
	"archive/extract":             adapt((*client.ClientWithResponses).CreateTaskArchiveExtractWithResponse),
	"capture-website":             adapt((*client.ClientWithResponses).CreateTaskCaptureWebsiteWithResponse),
	"command":                     adapt((*client.ClientWithResponses).CreateTaskCommandWithResponse),
	"convert":                     adapt((*client.ClientWithResponses).CreateTaskConvertWithResponse),
	"export/azure/blob":           adapt((*client.ClientWithResponses).CreateTaskExportAzureBlobWithResponse),
	"export/google-cloud-storage": adapt((*client.ClientWithResponses).CreateTaskExportGoogleCloudStorageWithResponse),
	"export/openstack":            adapt((*client.ClientWithResponses).CreateTaskExportOpenstackWithResponse),
	"export/s3":                   adapt((*client.ClientWithResponses).CreateTaskExportS3WithResponse),
	"export/sftp":                 adapt((*client.ClientWithResponses).CreateTaskExportSftpWithResponse),
	"export/url":                  adapt((*client.ClientWithResponses).CreateTaskExportUrlWithResponse),
	"import/azure/blob":           adapt((*client.ClientWithResponses).CreateTaskImportAzureBlobWithResponse),
	"import/base64":               adapt((*client.ClientWithResponses).CreateTaskImportBase64WithResponse),
	"import/google-cloud-storage": adapt((*client.ClientWithResponses).CreateTaskImportGoogleCloudStorageWithResponse),
	"import/openstack":            adapt((*client.ClientWithResponses).CreateTaskImportOpenstackWithResponse),
	"import/raw":                  adapt((*client.ClientWithResponses).CreateTaskImportRawWithResponse),
	"import/s3":                   adapt((*client.ClientWithResponses).CreateTaskImportS3WithResponse),
	"import/sftp":                 adapt((*client.ClientWithResponses).CreateTaskImportSftpWithResponse),
	"import/upload":               adapt((*client.ClientWithResponses).CreateTaskImportUploadWithResponse),
	"import/url":                  adapt((*client.ClientWithResponses).CreateTaskImportUrlWithResponse),
	"merge":                       adapt((*client.ClientWithResponses).CreateTaskMergeWithResponse),
	"metadata":                    adapt((*client.ClientWithResponses).CreateTaskMetadataWithResponse),
	"metadata/write":              adapt((*client.ClientWithResponses).CreateTaskMetadataWriteWithResponse),
	"optimize":                    adapt((*client.ClientWithResponses).CreateTaskOptimizeWithResponse),
	"pdf/a":                       adapt((*client.ClientWithResponses).CreateTaskPdfAWithResponse),
	"pdf/decrypt":                 adapt((*client.ClientWithResponses).CreateTaskPdfDecryptWithResponse),
	"pdf/encrypt":                 adapt((*client.ClientWithResponses).CreateTaskPdfEncryptWithResponse),
	"pdf/extract-pages":           adapt((*client.ClientWithResponses).CreateTaskPdfExtractPagesWithResponse),
	"pdf/ocr":                     adapt((*client.ClientWithResponses).CreateTaskPdfOcrWithResponse),
	"pdf/rotate-pages":            adapt((*client.ClientWithResponses).CreateTaskPdfRotatePagesWithResponse),
	"pdf/split-pages":             adapt((*client.ClientWithResponses).CreateTaskPdfSplitPagesWithResponse),
	"thumbnail":                   adapt((*client.ClientWithResponses).CreateTaskThumbnailWithResponse),
	"watermark":                   adapt((*client.ClientWithResponses).CreateTaskWatermarkWithResponse),
}
