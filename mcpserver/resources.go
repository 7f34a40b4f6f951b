package mcpserver

import (
	"context"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// DocsMIMEType is the MIME type of the docs resources.
const DocsMIMEType = "text/markdown"

// addResources serves each runtime docs page as a resource
// <slug>-docs://<page name>, e.g. cloudconvert-docs://cloudconvert.create_job.
func (s *Server) addResources() {
	for _, p := range s.rt.ListDocs() {
		uri := s.DocURI(p.Name)
		text := p.Text
		s.mcp.AddResource(&mcp.Resource{
			URI:         uri,
			Name:        p.Name,
			Title:       p.Title,
			Description: p.Title,
			MIMEType:    DocsMIMEType,
			Size:        int64(len(text)),
		}, func(_ context.Context, req *mcp.ReadResourceRequest) (*mcp.ReadResourceResult, error) {
			if req.Params == nil || req.Params.URI != uri {
				return nil, mcp.ResourceNotFoundError(uri)
			}
			return &mcp.ReadResourceResult{Contents: []*mcp.ResourceContents{{URI: uri, MIMEType: DocsMIMEType, Text: text}}}, nil
		})
	}
}
