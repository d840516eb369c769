package secretcachetest

import (
	"fmt"
	"unicode/utf8"
)

// Length limits from the Secrets Manager API reference. Lengths of IDs,
// names and labels count characters; value sizes count bytes.
const (
	maxSecretIDLength    = 2048
	maxNameLength        = 512
	minVersionIDLength   = 32
	maxVersionIDLength   = 64
	maxStageLength       = 256
	maxStagesPerRequest  = 20
	maxSecretValueBytes  = 65536
	maxBatchSecretIDs    = 20
	minRecoveryWindowDay = 7
	maxRecoveryWindowDay = 30
)

// validateSecretID checks a required SecretId member and returns its value.
func validateSecretID(member string, secretID *string) (string, *apiError) {
	if secretID == nil {
		return "", errorf(codeInvalidParameter, "%s is missing: pass the name or ARN of the secret", member)
	}
	if err := validateLength(member, *secretID, 1, maxSecretIDLength); err != nil {
		return "", err
	}
	return *secretID, nil
}

// validateLength checks that value has between minLength and maxLength
// characters.
func validateLength(member, value string, minLength, maxLength int) *apiError {
	n := utf8.RuneCountInString(value)
	if n < minLength || n > maxLength {
		return errorf(codeInvalidParameter,
			"%s has %d characters: it must have between %d and %d", member, n, minLength, maxLength)
	}
	return nil
}

// validateOptionalLength checks the length of an optional member.
func validateOptionalLength(member string, value *string, minLength, maxLength int) *apiError {
	if value == nil {
		return nil
	}
	return validateLength(member, *value, minLength, maxLength)
}

// validateName checks a secret name: 1 to 512 ASCII letters, digits and the
// characters /_+=.@- as the CreateSecret reference allows.
func validateName(name string) *apiError {
	if err := validateLength("Name", name, 1, maxNameLength); err != nil {
		return err
	}
	for i := 0; i < len(name); i++ {
		if !isNameByte(name[i]) {
			return errorf(codeInvalidParameter,
				"Name %q has the invalid character %q at byte %d: use only ASCII letters, digits and /_+=.@-",
				truncate(name, 100), rune(name[i]), i)
		}
	}
	return nil
}

func isNameByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '/', '_', '+', '=', '.', '@', '-':
		return true
	}
	return false
}

// validateValue checks the SecretString and SecretBinary members of a
// CreateSecret or PutSecretValue request and returns the value. present is
// false when the request has neither.
func validateValue(text *string, binary []byte) (value secretValue, present bool, err *apiError) {
	switch {
	case text != nil && binary != nil:
		return secretValue{}, false, errorf(codeInvalidParameter,
			"the request has both SecretString and SecretBinary: pass only one")
	case text != nil:
		if len(*text) > maxSecretValueBytes {
			return secretValue{}, false, errorf(codeInvalidParameter,
				"SecretString has %d bytes: the maximum is %d", len(*text), maxSecretValueBytes)
		}
		return secretValue{text: *text}, true, nil
	case binary != nil:
		if len(binary) > maxSecretValueBytes {
			return secretValue{}, false, errorf(codeInvalidParameter,
				"SecretBinary has %d bytes: the maximum is %d", len(binary), maxSecretValueBytes)
		}
		return secretValue{binary: binary, isBinary: true}, true, nil
	}
	return secretValue{}, false, nil
}

// validateVersionStages checks the VersionStages member of PutSecretValue.
func validateVersionStages(stages []string) *apiError {
	if len(stages) < 1 || len(stages) > maxStagesPerRequest {
		return errorf(codeInvalidParameter,
			"VersionStages has %d labels: pass between 1 and %d, or omit it to attach AWSCURRENT",
			len(stages), maxStagesPerRequest)
	}
	for i, stage := range stages {
		if err := validateLength(fmt.Sprintf("VersionStages[%d]", i), stage, 1, maxStageLength); err != nil {
			return err
		}
	}
	return nil
}
