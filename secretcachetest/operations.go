package secretcachetest

import (
	"fmt"
	"time"
)

// operations maps each implemented operation to the function that decodes
// its JSON input and runs it.
var operations = map[Op]func(s *Server, body []byte) (any, *apiError){
	OpGetSecretValue: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.getSecretValue)
	},
	OpDescribeSecret: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.describeSecret)
	},
	OpCreateSecret: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.createSecret)
	},
	OpPutSecretValue: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.putSecretValue)
	},
	OpUpdateSecretVersionStage: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.updateSecretVersionStage)
	},
	OpDeleteSecret: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.deleteSecret)
	},
	OpBatchGetSecretValue: func(s *Server, body []byte) (any, *apiError) {
		return decodeAndRun(body, s.batchGetSecretValue)
	},
}

func decodeAndRun[Input any](body []byte, run func(*Input) (any, *apiError)) (any, *apiError) {
	var input Input
	if err := decodeInput(body, &input); err != nil {
		return nil, err
	}
	return run(&input)
}

// The input and output types below declare the members of the Secrets
// Manager API that the server reads or writes. Input members that are not
// declared, such as Description, KmsKeyId or Tags, are ignored.

type getSecretValueInput struct {
	SecretID     *string `json:"SecretId"`
	VersionID    *string `json:"VersionId"`
	VersionStage *string `json:"VersionStage"`
}

// secretValueOutput is the output of GetSecretValue and an entry of
// BatchGetSecretValue's SecretValues.
type secretValueOutput struct {
	ARN           string        `json:"ARN"`
	Name          string        `json:"Name"`
	VersionID     string        `json:"VersionId"`
	SecretString  *string       `json:"SecretString,omitempty"`
	SecretBinary  []byte        `json:"SecretBinary,omitzero"` // base64; an empty value is sent as ""
	VersionStages []string      `json:"VersionStages"`
	CreatedDate   *epochSeconds `json:"CreatedDate,omitempty"`
}

func (s *Server) getSecretValue(in *getSecretValueInput) (any, *apiError) {
	secretID, err := validateSecretID("SecretId", in.SecretID)
	if err != nil {
		return nil, err
	}
	if err := validateOptionalLength("VersionId", in.VersionID, minVersionIDLength, maxVersionIDLength); err != nil {
		return nil, err
	}
	if err := validateOptionalLength("VersionStage", in.VersionStage, 1, maxStageLength); err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(OpGetSecretValue, secretID)
	if err != nil {
		return nil, err
	}
	if err := checkNotDeleted(sec, OpGetSecretValue); err != nil {
		return nil, err
	}
	v, err := sec.selectVersion(in.VersionID, in.VersionStage)
	if err != nil {
		return nil, err
	}
	return sec.valueOutput(v), nil
}

// selectVersion returns the version that GetSecretValue reads: the one with
// versionID, else the one with stage, else the AWSCURRENT one.
//
// NOTE: when versionID and stage are both given but the version lacks the
// label, the API reference requires only that both refer to the same
// version. The server returns ResourceNotFoundException, as AWS has been
// seen to do, but this case is not documented.
func (sec *secret) selectVersion(versionID, stage *string) (*version, *apiError) {
	if versionID != nil {
		v := sec.versions[*versionID]
		if v == nil {
			return nil, errorf(codeResourceNotFound,
				"secret %q has no version %q: pass a VersionId from PutSecretValue or DescribeSecret", sec.name, *versionID)
		}
		if stage != nil && sec.stages[*stage] != v.id {
			return nil, errorf(codeResourceNotFound,
				"version %q of secret %q does not have the staging label %q: omit VersionStage or pass a label of that version",
				v.id, sec.name, *stage)
		}
		return v, nil
	}

	label := stageCurrent
	if stage != nil {
		label = *stage
	}
	v := sec.versions[sec.stages[label]]
	if v == nil {
		return nil, errorf(codeResourceNotFound,
			"secret %q has no version with the staging label %q", sec.name, label)
	}
	return v, nil
}

// valueOutput returns the output for reading version v. The output shares
// v's value, which is never modified after the version is stored.
func (sec *secret) valueOutput(v *version) secretValueOutput {
	out := secretValueOutput{
		ARN:           sec.arn,
		Name:          sec.name,
		VersionID:     v.id,
		VersionStages: sec.stagesOf(v.id),
		CreatedDate:   epochOrNil(v.created),
	}
	if v.value.isBinary {
		out.SecretBinary = v.value.binary
	} else {
		text := v.value.text
		out.SecretString = &text
	}
	return out
}

type describeSecretInput struct {
	SecretID *string `json:"SecretId"`
}

// describeSecretOutput is the output of DescribeSecret. Its DeletedDate is
// the time of the DeleteSecret request.
//
// NOTE: the API reference does not say whether DeletedDate is the request
// time or the end of the recovery window, which DeleteSecret returns as
// DeletionDate.
type describeSecretOutput struct {
	ARN                string              `json:"ARN"`
	Name               string              `json:"Name"`
	CreatedDate        *epochSeconds       `json:"CreatedDate,omitempty"`
	LastChangedDate    *epochSeconds       `json:"LastChangedDate,omitempty"`
	DeletedDate        *epochSeconds       `json:"DeletedDate,omitempty"`
	VersionIdsToStages map[string][]string `json:"VersionIdsToStages,omitempty"`
}

func (s *Server) describeSecret(in *describeSecretInput) (any, *apiError) {
	secretID, err := validateSecretID("SecretId", in.SecretID)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(OpDescribeSecret, secretID)
	if err != nil {
		return nil, err
	}
	return describeSecretOutput{
		ARN:                sec.arn,
		Name:               sec.name,
		CreatedDate:        epochOrNil(sec.created),
		LastChangedDate:    epochOrNil(sec.lastChanged),
		DeletedDate:        epochOrNil(sec.deleted),
		VersionIdsToStages: sec.versionStages(),
	}, nil
}

type createSecretInput struct {
	Name               *string `json:"Name"`
	ClientRequestToken *string `json:"ClientRequestToken"`
	SecretString       *string `json:"SecretString"`
	SecretBinary       []byte  `json:"SecretBinary"`
}

type createSecretOutput struct {
	ARN       string  `json:"ARN"`
	Name      string  `json:"Name"`
	VersionID *string `json:"VersionId,omitempty"`
}

func (s *Server) createSecret(in *createSecretInput) (any, *apiError) {
	if in.Name == nil {
		return nil, errorf(codeInvalidParameter, "Name is missing: pass the name of the new secret")
	}
	name := *in.Name
	if err := validateName(name); err != nil {
		return nil, err
	}
	if err := validateOptionalLength("ClientRequestToken", in.ClientRequestToken, minVersionIDLength, maxVersionIDLength); err != nil {
		return nil, err
	}
	value, hasValue, err := validateValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isDenied(name, OpCreateSecret) {
		return nil, accessDenied(OpCreateSecret, name)
	}
	if existing := s.secrets[name]; existing != nil {
		return existing.repeatedCreate(in.ClientRequestToken, value, hasValue)
	}

	sec := newSecret(name, time.Now())
	s.secrets[name] = sec
	out := createSecretOutput{ARN: sec.arn, Name: sec.name}
	if hasValue {
		v := sec.addVersion(tokenOrNewID(in.ClientRequestToken), value, []string{stageCurrent}, sec.created)
		out.VersionID = &v.id
	}
	return out, nil
}

// repeatedCreate handles CreateSecret for a name that is taken. A retry
// with the same ClientRequestToken and value succeeds without a change, as
// the token makes CreateSecret idempotent on AWS.
func (sec *secret) repeatedCreate(token *string, value secretValue, hasValue bool) (any, *apiError) {
	if !sec.deleted.IsZero() {
		return nil, errorf(codeInvalidRequest,
			"a secret named %q is already marked for deletion: choose another name", sec.name)
	}
	if token != nil && hasValue {
		if v := sec.versions[*token]; v != nil && v.value.equal(value) {
			return createSecretOutput{ARN: sec.arn, Name: sec.name, VersionID: &v.id}, nil
		}
	}
	return nil, errorf(codeResourceExists,
		"secret %q already exists: use PutSecretValue to add a version", sec.name)
}

type putSecretValueInput struct {
	SecretID           *string  `json:"SecretId"`
	ClientRequestToken *string  `json:"ClientRequestToken"`
	SecretString       *string  `json:"SecretString"`
	SecretBinary       []byte   `json:"SecretBinary"`
	VersionStages      []string `json:"VersionStages"`
}

type putSecretValueOutput struct {
	ARN           string   `json:"ARN"`
	Name          string   `json:"Name"`
	VersionID     string   `json:"VersionId"`
	VersionStages []string `json:"VersionStages"`
}

func (s *Server) putSecretValue(in *putSecretValueInput) (any, *apiError) {
	secretID, err := validateSecretID("SecretId", in.SecretID)
	if err != nil {
		return nil, err
	}
	if err := validateOptionalLength("ClientRequestToken", in.ClientRequestToken, minVersionIDLength, maxVersionIDLength); err != nil {
		return nil, err
	}
	value, hasValue, err := validateValue(in.SecretString, in.SecretBinary)
	if err != nil {
		return nil, err
	}
	if !hasValue {
		return nil, errorf(codeInvalidParameter, "the request has neither SecretString nor SecretBinary: pass one of them")
	}
	stages := []string{stageCurrent}
	if in.VersionStages != nil {
		if err := validateVersionStages(in.VersionStages); err != nil {
			return nil, err
		}
		stages = in.VersionStages
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(OpPutSecretValue, secretID)
	if err != nil {
		return nil, err
	}
	if err := checkNotDeleted(sec, OpPutSecretValue); err != nil {
		return nil, err
	}

	versionID := tokenOrNewID(in.ClientRequestToken)
	v := sec.versions[versionID]
	switch {
	case v == nil:
		v = sec.addVersion(versionID, value, stages, time.Now())
	case !v.value.equal(value):
		return nil, errorf(codeResourceExists,
			"version %q of secret %q already exists with a different value: versions can't change, so send a new ClientRequestToken",
			versionID, sec.name)
	}
	// A repeated request with the same token and value changes nothing.
	return putSecretValueOutput{ARN: sec.arn, Name: sec.name, VersionID: v.id, VersionStages: sec.stagesOf(v.id)}, nil
}

// tokenOrNewID returns the ClientRequestToken, which becomes the version ID,
// or a new UUID when the request has none. The SDK always sends one.
func tokenOrNewID(token *string) string {
	if token != nil {
		return *token
	}
	return newUUID()
}

type updateSecretVersionStageInput struct {
	SecretID            *string `json:"SecretId"`
	VersionStage        *string `json:"VersionStage"`
	MoveToVersionID     *string `json:"MoveToVersionId"`
	RemoveFromVersionID *string `json:"RemoveFromVersionId"`
}

type secretNameOutput struct {
	ARN  string `json:"ARN"`
	Name string `json:"Name"`
}

func (s *Server) updateSecretVersionStage(in *updateSecretVersionStageInput) (any, *apiError) {
	secretID, err := validateSecretID("SecretId", in.SecretID)
	if err != nil {
		return nil, err
	}
	if in.VersionStage == nil {
		return nil, errorf(codeInvalidParameter, "VersionStage is missing: pass the staging label to move or remove")
	}
	stage := *in.VersionStage
	if err := validateLength("VersionStage", stage, 1, maxStageLength); err != nil {
		return nil, err
	}
	if err := validateOptionalLength("MoveToVersionId", in.MoveToVersionID, minVersionIDLength, maxVersionIDLength); err != nil {
		return nil, err
	}
	if err := validateOptionalLength("RemoveFromVersionId", in.RemoveFromVersionID, minVersionIDLength, maxVersionIDLength); err != nil {
		return nil, err
	}
	if in.MoveToVersionID == nil && in.RemoveFromVersionID == nil {
		return nil, errorf(codeInvalidParameter,
			"the request has neither MoveToVersionId nor RemoveFromVersionId: pass at least one")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(OpUpdateSecretVersionStage, secretID)
	if err != nil {
		return nil, err
	}
	if err := checkNotDeleted(sec, OpUpdateSecretVersionStage); err != nil {
		return nil, err
	}
	if err := sec.updateStage(stage, in.MoveToVersionID, in.RemoveFromVersionID); err != nil {
		return nil, err
	}
	sec.lastChanged = time.Now()
	return secretNameOutput{ARN: sec.arn, Name: sec.name}, nil
}

// updateStage moves a staging label to moveTo, or removes it from
// removeFrom when moveTo is nil. A label that another version has moves
// only when removeFrom names that version, and AWSCURRENT can only move.
func (sec *secret) updateStage(stage string, moveTo, removeFrom *string) *apiError {
	holder, attached := sec.stages[stage]
	if removeFrom != nil && (!attached || holder != *removeFrom) {
		return errorf(codeInvalidParameter,
			"staging label %q is not attached to RemoveFromVersionId %q of secret %q", stage, *removeFrom, sec.name)
	}

	if moveTo == nil {
		if stage == stageCurrent {
			return errorf(codeInvalidParameter,
				"AWSCURRENT can't be removed from secret %q: pass MoveToVersionId to move it to another version", sec.name)
		}
		delete(sec.stages, stage)
		return nil
	}

	if sec.versions[*moveTo] == nil {
		return errorf(codeResourceNotFound,
			"secret %q has no version %q: pass a MoveToVersionId from DescribeSecret", sec.name, *moveTo)
	}
	if attached && holder != *moveTo && removeFrom == nil {
		return errorf(codeInvalidParameter,
			"staging label %q of secret %q is attached to version %q: pass that version as RemoveFromVersionId to move the label",
			stage, sec.name, holder)
	}
	sec.moveStage(stage, *moveTo)
	return nil
}

type deleteSecretInput struct {
	SecretID                   *string `json:"SecretId"`
	ForceDeleteWithoutRecovery *bool   `json:"ForceDeleteWithoutRecovery"`
	RecoveryWindowInDays       *int64  `json:"RecoveryWindowInDays"`
}

type deleteSecretOutput struct {
	ARN          string        `json:"ARN"`
	Name         string        `json:"Name"`
	DeletionDate *epochSeconds `json:"DeletionDate,omitempty"`
}

func (s *Server) deleteSecret(in *deleteSecretInput) (any, *apiError) {
	secretID, err := validateSecretID("SecretId", in.SecretID)
	if err != nil {
		return nil, err
	}
	force := in.ForceDeleteWithoutRecovery != nil && *in.ForceDeleteWithoutRecovery
	recoveryDays := int64(maxRecoveryWindowDay)
	if in.RecoveryWindowInDays != nil {
		if force {
			return nil, errorf(codeInvalidParameter,
				"the request has both ForceDeleteWithoutRecovery and RecoveryWindowInDays: pass only one")
		}
		recoveryDays = *in.RecoveryWindowInDays
		if recoveryDays < minRecoveryWindowDay || recoveryDays > maxRecoveryWindowDay {
			return nil, errorf(codeInvalidParameter,
				"RecoveryWindowInDays is %d: it must be between %d and %d", recoveryDays, minRecoveryWindowDay, maxRecoveryWindowDay)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	sec, err := s.findSecret(OpDeleteSecret, secretID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := deleteSecretOutput{ARN: sec.arn, Name: sec.name}
	switch {
	case force:
		delete(s.secrets, sec.name)
		out.DeletionDate = epochOrNil(now)
	case !sec.deleted.IsZero():
		// NOTE: the error for deleting a secret twice without
		// ForceDeleteWithoutRecovery is assumed from the InvalidRequestException
		// causes in the API reference, which list secrets scheduled for deletion.
		return nil, errorf(codeInvalidRequest,
			"secret %q is already marked for deletion: pass ForceDeleteWithoutRecovery to remove it now", sec.name)
	default:
		sec.deleted = now
		sec.lastChanged = now
		out.DeletionDate = epochOrNil(now.Add(time.Duration(recoveryDays) * 24 * time.Hour))
	}
	return out, nil
}

type batchGetSecretValueInput struct {
	SecretIDList []string `json:"SecretIdList"`
	Filters      []any    `json:"Filters"`
	MaxResults   *int32   `json:"MaxResults"`
	NextToken    *string  `json:"NextToken"`
}

type batchGetSecretValueOutput struct {
	SecretValues []secretValueOutput `json:"SecretValues"`
	Errors       []batchError        `json:"Errors"`
}

// batchError is an entry of BatchGetSecretValue's Errors.
type batchError struct {
	SecretID  string `json:"SecretId"`
	ErrorCode string `json:"ErrorCode"`
	Message   string `json:"Message"`
}

// batchGetSecretValue reads the AWSCURRENT version of each secret in
// SecretIdList, in order. A secret that GetSecretValue would fail for goes
// to Errors instead, with the code that GetSecretValue would return.
// Deny on OpGetSecretValue or OpBatchGetSecretValue blocks a secret.
func (s *Server) batchGetSecretValue(in *batchGetSecretValueInput) (any, *apiError) {
	if len(in.Filters) > 0 {
		return nil, errorf(codeInvalidParameter,
			"Filters are not supported by secretcachetest.Server: pass the secrets in SecretIdList")
	}
	if in.MaxResults != nil {
		return nil, errorf(codeInvalidParameter,
			"MaxResults is valid only with Filters, which secretcachetest.Server does not support: omit MaxResults")
	}
	if in.NextToken != nil && *in.NextToken != "" {
		return nil, errorf(codeInvalidNextToken,
			"NextToken %q is invalid: secretcachetest.Server returns all results at once and never issues a token",
			truncate(*in.NextToken, 100))
	}
	if len(in.SecretIDList) == 0 {
		return nil, errorf(codeInvalidParameter, "SecretIdList is missing or empty: pass between 1 and %d secret IDs", maxBatchSecretIDs)
	}
	if len(in.SecretIDList) > maxBatchSecretIDs {
		return nil, errorf(codeInvalidParameter,
			"SecretIdList has %d entries: the maximum is %d, so split the request", len(in.SecretIDList), maxBatchSecretIDs)
	}
	for i, secretID := range in.SecretIDList {
		if err := validateLength(fmt.Sprintf("SecretIdList[%d]", i), secretID, 1, maxSecretIDLength); err != nil {
			return nil, err
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	out := batchGetSecretValueOutput{SecretValues: []secretValueOutput{}, Errors: []batchError{}}
	for _, secretID := range in.SecretIDList {
		value, err := s.batchEntry(secretID)
		if err != nil {
			out.Errors = append(out.Errors, batchError{SecretID: secretID, ErrorCode: err.code, Message: err.message})
			continue
		}
		out.SecretValues = append(out.SecretValues, value)
	}
	return out, nil
}

// batchEntry reads the AWSCURRENT version of one secret of a
// BatchGetSecretValue request. The caller holds s.mu.
func (s *Server) batchEntry(secretID string) (secretValueOutput, *apiError) {
	sec, err := s.findSecret(OpBatchGetSecretValue, secretID)
	if err != nil {
		return secretValueOutput{}, err
	}
	if s.isDenied(sec.name, OpGetSecretValue) {
		return secretValueOutput{}, accessDenied(OpGetSecretValue, secretID)
	}
	if err := checkNotDeleted(sec, OpBatchGetSecretValue); err != nil {
		return secretValueOutput{}, err
	}
	v, err := sec.selectVersion(nil, nil)
	if err != nil {
		return secretValueOutput{}, err
	}
	return sec.valueOutput(v), nil
}

// findSecret returns the secret that secretID names, after the Deny check
// for op. The caller holds s.mu.
func (s *Server) findSecret(op Op, secretID string) (*secret, *apiError) {
	sec := s.lookup(secretID)
	name := secretID
	if sec != nil {
		name = sec.name
	}
	if s.isDenied(name, op) {
		return nil, accessDenied(op, secretID)
	}
	if sec == nil {
		return nil, errorf(codeResourceNotFound,
			"secret %q not found: create it with CreateSecret or Server.PutString, or check the name or ARN",
			truncate(secretID, 200))
	}
	return sec, nil
}

// checkNotDeleted rejects op on a secret that is marked for deletion.
func checkNotDeleted(sec *secret, op Op) *apiError {
	if sec.deleted.IsZero() {
		return nil
	}
	return errorf(codeInvalidRequest,
		"secret %q was marked for deletion at %s, so %s can't use it: create a secret under another name",
		sec.name, sec.deleted.UTC().Format(time.RFC3339), op)
}
