package providers

import "strings"

// WithArticle puts "a" or "an" before name, as it is said: "an OpenAI key",
// "a Stripe key", "an AWS profile". Words go by their first letter (a, e,
// i, o, u: "an"); names in capitals (AWS, S3) are spelled out letter by
// letter, so they go by how that letter is said ("an S3 bucket", "a GCP
// project").
func WithArticle(name string) string {
	if name == "" {
		return name
	}
	first := strings.ToLower(name[:1])
	vowels := "aeiou"
	if len(name) > 1 && name == strings.ToUpper(name) {
		vowels = "aefhilmnorsx" // letters whose names start with a vowel sound
	}
	if strings.Contains(vowels, first) {
		return "an " + name
	}
	return "a " + name
}
