package mcpserver

import (
	"strings"
	"testing"
)

// TestLocalServer drives the tools against the embedded local
// CloudConvert server: read tools, a multi-step execute_lua script that
// creates a job, waits for it (sync API) and lists its tasks, and an API error.
func TestLocalServer(t *testing.T) {
	ls := newLocalAPI(t)
	cs := connect(t, newServer(t, setup{allowWrite: true, base: ls.APIURL()}))

	res := call(t, cs, "cloudconvert_get_current_user", nil)
	if res.IsError {
		t.Fatalf("get_current_user: %s", text(res))
	}
	if data, _ := res.StructuredContent.(map[string]any)["data"].(map[string]any); data["username"] == nil {
		t.Errorf("user: %s", mustJSON(res.StructuredContent))
	}

	script := `
local cc = app.integrations.cloudconvert
local job = cc.create_job({tag = "mcp-local", tasks = {
  {name = "in", operation = "import/raw", file = "hello from MCP\n", filename = "hello.txt"},
  {name = "zip", operation = "archive", input = "in", output_format = "zip"},
  {name = "out", operation = "export/url", input = "zip"},
}})
local id = job.data.id
local status = cc.wait_job({job_id = id, timeout = 60}).data.status
assert(cc.get_job({job_id = id}).data.status == status)
local files = {}
for _, t in ipairs(cc.list_tasks({job_id = id}).data) do
  if t.operation == "export/url" and t.result then
    for _, f in ipairs(t.result.files) do files[#files + 1] = f.filename end
  end
end
return {id = id, status = status, files = files}
`
	res = call(t, cs, "execute_lua", map[string]any{"code": script})
	if res.IsError {
		t.Fatalf("script: %s", text(res))
	}
	result, _ := res.StructuredContent.(map[string]any)["result"].(map[string]any)
	files, _ := result["files"].([]any)
	if result["status"] != "finished" || len(files) != 1 || !strings.HasSuffix(files[0].(string), ".zip") {
		t.Errorf("job: %s", text(res))
	}
	id, _ := result["id"].(string)

	res = call(t, cs, "cloudconvert_wait_job", map[string]any{"job_id": id, "timeout": 30})
	if res.IsError || !strings.Contains(text(res), `"status": "finished"`) {
		t.Errorf("wait_job: %s", text(res))
	}
	res = call(t, cs, "cloudconvert_list_jobs", map[string]any{"tag": "mcp-local"})
	if res.IsError || !strings.Contains(text(res), id) {
		t.Errorf("list_jobs: %s", text(res))
	}
	res = call(t, cs, "cloudconvert_get_job", map[string]any{"job_id": "00000000-0000-0000-0000-000000000000"})
	if !res.IsError || errorField(res, "status") != float64(404) {
		t.Errorf("unknown job: %s", text(res))
	}
}
