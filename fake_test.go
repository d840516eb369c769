package secretcache

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// fakeClient is an in-memory Client for tests of pure cache logic. It keeps
// versions and stage labels like Secrets Manager, counts calls, and can fail
// or block calls on request.
type fakeClient struct {
	mu      sync.Mutex
	secrets map[string]*fakeSecret
	nextID  int
	errs    map[string]error // next error per operation, returned until cleared
	gate    chan struct{}    // when set, calls block until it is closed

	getCalls      atomic.Int64
	describeCalls atomic.Int64
}

type fakeSecret struct {
	versions map[string]*secretsmanager.GetSecretValueOutput
	stages   map[string]string // stage to version ID
	deleted  bool
}

func newFakeClient() *fakeClient {
	return &fakeClient{secrets: make(map[string]*fakeSecret), errs: make(map[string]error)}
}

// put stores a new string version of name as AWSCURRENT and returns its ID.
func (f *fakeClient) put(name, value string) string {
	return f.putOutput(name, &secretsmanager.GetSecretValueOutput{SecretString: aws.String(value)})
}

// putBinary stores a new binary version of name as AWSCURRENT.
func (f *fakeClient) putBinary(name string, value []byte) string {
	return f.putOutput(name, &secretsmanager.GetSecretValueOutput{SecretBinary: value})
}

func (f *fakeClient) putOutput(name string, out *secretsmanager.GetSecretValueOutput) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.secrets[name]
	if s == nil {
		s = &fakeSecret{versions: make(map[string]*secretsmanager.GetSecretValueOutput), stages: make(map[string]string)}
		f.secrets[name] = s
	}
	f.nextID++
	id := fmt.Sprintf("v%04d-%s", f.nextID, name)
	out.Name = aws.String(name)
	out.ARN = aws.String("arn:aws:secretsmanager:us-east-1:123456789012:secret:" + name + "-AbCdEf")
	out.VersionId = aws.String(id)
	out.CreatedDate = aws.Time(time.Unix(1700000000, 0))
	s.versions[id] = out
	if cur, ok := s.stages["AWSCURRENT"]; ok {
		s.stages["AWSPREVIOUS"] = cur
	}
	s.stages["AWSCURRENT"] = id
	return id
}

// setStage moves a stage label to the version id of name.
func (f *fakeClient) setStage(name, stage, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[name].stages[stage] = id
}

// failWith makes every call of op ("GetSecretValue" or "DescribeSecret")
// return err until cleared with failWith(op, nil).
func (f *fakeClient) failWith(op string, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.errs, op)
		return
	}
	f.errs[op] = err
}

// block makes calls wait until the returned function is called.
func (f *fakeClient) block() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.gate = ch
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			f.gate = nil
			f.mu.Unlock()
			close(ch)
		})
	}
}

func (f *fakeClient) wait(ctx context.Context) error {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate == nil {
		return nil
	}
	select {
	case <-gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (f *fakeClient) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.getCalls.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["GetSecretValue"]; err != nil {
		return nil, err
	}
	s := f.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	if s.deleted {
		return nil, &types.InvalidRequestException{Message: aws.String("secret is marked for deletion")}
	}
	id := aws.ToString(in.VersionId)
	if id == "" {
		stage := aws.ToString(in.VersionStage)
		if stage == "" {
			stage = "AWSCURRENT"
		}
		id = s.stages[stage]
	}
	out := s.versions[id]
	if out == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret value.")}
	}
	c := *out
	c.VersionStages = s.labels(id)
	if out.SecretBinary != nil {
		c.SecretBinary = append([]byte(nil), out.SecretBinary...)
	}
	return &c, nil
}

func (f *fakeClient) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.describeCalls.Add(1)
	if err := f.wait(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs["DescribeSecret"]; err != nil {
		return nil, err
	}
	s := f.secrets[aws.ToString(in.SecretId)]
	if s == nil {
		return nil, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")}
	}
	out := &secretsmanager.DescribeSecretOutput{Name: in.SecretId, VersionIdsToStages: make(map[string][]string)}
	for id := range s.versions {
		if labels := s.labels(id); len(labels) > 0 {
			out.VersionIdsToStages[id] = labels
		}
	}
	if s.deleted {
		out.DeletedDate = aws.Time(time.Unix(1700000000, 0))
	}
	return out, nil
}

// labels returns the stage labels on version id, sorted.
func (s *fakeSecret) labels(id string) []string {
	var labels []string
	for stage, v := range s.stages {
		if v == id {
			labels = append(labels, stage)
		}
	}
	sort.Strings(labels)
	return labels
}
